package dev.portcullis.plugins.helo;

import dev.portcullis.testkit.FakeSession;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Reply;
import dev.portcullis.plugins.helo.HeloPlugin.SubCheck;
import dev.portcullis.testkit.TestDns;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The decisions of each HELO sub-check, against the in-process DNS server, without a socket. */
@Timeout(20)
class HeloPluginTest {

    static TestDns dns;
    static final String CLIENT = "198.51.100.7";
    static final String US = "192.0.2.25";

    static final LocalRecipients LOCAL = new LocalRecipients() {
        @Override public boolean isLocalDomain(String domain) { return domain.equals("example.test"); }
        @Override public Optional<List<String>> mailboxesFor(Address address) { return Optional.empty(); }
    };

    @BeforeAll
    static void zones() throws Exception {
        dns = new TestDns()
                .a("good.example", "192.0.2.80")
                .aaaa("six.example", "2001:db8::80")
                .mx("mxonly.example", 10, "good.example")
                .txt("txtonly.example", "v=spf1 -all")
                .timeout("slow.example")
                .servfail("broken.example");
    }

    @AfterAll
    static void stop() { dns.close(); }

    /** The defaults, with some sub-checks' actions overridden, and the given defer_to_rcpt. */
    static HeloPlugin plugin(boolean defer, Map<SubCheck, Action> overrides) {
        Map<SubCheck, CheckPolicy> policies = new EnumMap<>(SubCheck.class);
        for (SubCheck c : SubCheck.values())
            policies.put(c, new CheckPolicy("helo", overrides.getOrDefault(c, c.defaultAction), c.defaultScore, defer));
        return new HeloPlugin(policies, Set.of("mx"), "mx.test", LOCAL, dns.client());
    }

    static HeloPlugin direct() { return plugin(false, Map.of()); }

    static HookResult helo(HeloPlugin p, FakeSession s, String name) {
        return p.onHelo(new HeloContext(s, name, true));
    }

    static FakeSession client() { return new FakeSession(CLIENT, US); }

    static DecisionTrace.Entry last(FakeSession s) { return s.trace().entries().getLast(); }

    static void assertRejected(HookResult r, String subCheck, FakeSession s) {
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class, r, "expected a refusal for " + subCheck);
        assertEquals(550, d.reply().code());
        assertEquals("5.7.1", d.reply().enhanced());
        assertFalse(d.disconnect());
        assertEquals("reject", last(s).result());
        assertTrue(last(s).reason().startsWith(subCheck + ": "), last(s).reason());
        assertEquals("helo", last(s).plugin());
        assertEquals("helo", last(s).phase());
    }

    static void assertFlagged(HookResult r, String subCheck, FakeSession s) {
        assertSame(HookResult.DECLINED, r);
        assertTrue(s.trace().entries().stream().anyMatch(e -> e.result().equals("flag") && e.reason().startsWith(subCheck + ": ")),
                s.trace().toString());
    }

    static void assertPassed(HookResult r, FakeSession s) {
        assertSame(HookResult.DECLINED, r);
        assertEquals("pass", last(s).result(), s.trace().toString());
        assertEquals(0, s.trace().score());
    }

    // ---- each sub-check with its default action --------------------------------------------------------

    @Test
    void bareIpIsRejected() {
        FakeSession s = client();
        assertRejected(helo(direct(), s, "192.0.2.1"), "bare_ip", s);
        assertEquals(3, s.trace().score());
    }

    @Test
    void ourHostnameOrLocalDomainOrListenerAddressIsRejected() {
        for (String name : List.of("mx.test", "MX.TEST", "mx.test.", "example.test", "[" + US + "]", US)) {
            FakeSession s = client();
            assertRejected(helo(direct(), s, name), "claims_us", s);
        }
    }

    @Test
    void ourListenerAddressFromTheSameHostIsNotAClaim() {
        FakeSession s = new FakeSession(US, US); // a client on this very host says [its own address]
        assertPassed(helo(direct(), s, "[" + US + "]"), s);
    }

    @Test
    void invalidNamesAreRejected() {
        for (String name : List.of("bad!name.example", "-lead.example", "a..b.example", "[999.1.1.1]", "1.2.3")) {
            FakeSession s = client();
            assertRejected(helo(direct(), s, name), "invalid", s);
        }
    }

    @Test
    void literalOfAnotherAddressIsFlagged() {
        FakeSession s = client();
        assertFlagged(helo(direct(), s, "[192.0.2.99]"), "literal_mismatch", s);
        assertEquals(1, s.trace().score());
        assertFalse(s.notes().has(DeferredRejection.KEY));
    }

    @Test
    void literalOfTheClientsOwnAddressPasses() {
        FakeSession s = client();
        assertPassed(helo(direct(), s, "[" + CLIENT + "]"), s);
        FakeSession six = new FakeSession("2001:db8::7", "2001:db8::25");
        assertPassed(helo(direct(), six, "[IPv6:2001:DB8:0::7]"), six);
    }

    @Test
    void nameWithoutADotIsFlaggedAndNotLookedUp() {
        FakeSession s = client();
        assertFlagged(helo(direct(), s, "mypc"), "not_fqdn", s);
        // by name, not by count: another test's lookup still under way may reach the shared server meanwhile
        assertTrue(dns.queryLog().stream().noneMatch(q -> q.endsWith(" mypc.")),
                "a single-label name is never sent to DNS: " + dns.queryLog());
    }

    @Test
    void nameThatDoesNotResolveIsFlagged() {
        FakeSession s = client();
        assertFlagged(helo(direct(), s, "nx.example"), "no_resolve", s);
        assertTrue(last(s).reason().contains("no such domain"), last(s).reason());
        FakeSession t = client();
        assertFlagged(helo(direct(), t, "txtonly.example"), "no_resolve", t);
        assertTrue(last(t).reason().contains("no address or MX record"), last(t).reason());
    }

    @Test
    void nameWithAnAddressOrAnMxPasses() {
        for (String name : List.of("good.example", "GOOD.example.", "six.example", "mxonly.example")) {
            FakeSession s = client();
            assertPassed(helo(direct(), s, name), s);
        }
    }

    @Test
    void dnsFailureIsASkipNeverARefusal() {
        HeloPlugin strict = plugin(false, Map.of(SubCheck.NO_RESOLVE, Action.REJECT));
        for (String name : List.of("slow.example", "broken.example")) {
            FakeSession s = client();
            assertSame(HookResult.DECLINED, helo(strict, s, name));
            assertEquals("skip", last(s).result(), s.trace().toString());
            assertEquals(0, s.trace().score());
        }
        FakeSession s = client();
        assertRejected(helo(strict, s, "nx.example"), "no_resolve", s);
    }

    // ---- actions, deferral, repeated EHLO ---------------------------------------------------------------

    @Test
    void deferredRefusalWaitsForRcpt() {
        FakeSession s = client();
        HookResult r = helo(plugin(true, Map.of()), s, "192.0.2.1");
        assertSame(HookResult.DECLINED, r);
        DeferredRejection d = s.notes().get(DeferredRejection.KEY).orElseThrow();
        assertEquals("helo", d.check());
        assertEquals(550, d.reply().code());
        assertEquals("5.7.1", d.reply().enhanced());
        assertEquals("reject", last(s).result());
    }

    @Test
    void tempfailAndDisconnectActions() {
        FakeSession s = client();
        HookResult r = helo(plugin(false, Map.of(SubCheck.NOT_FQDN, Action.TEMPFAIL)), s, "mypc");
        HookResult.DenySoft soft = assertInstanceOf(HookResult.DenySoft.class, r);
        assertEquals(451, soft.reply().code());
        assertEquals("4.7.1", soft.reply().enhanced());

        FakeSession t = client();
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class,
                helo(plugin(true, Map.of(SubCheck.BARE_IP, Action.DISCONNECT)), t, "192.0.2.1"));
        assertTrue(d.disconnect(), "disconnect is never deferred");
    }

    @Test
    void offSubChecksAreNotJudged() {
        FakeSession s = client();
        assertPassed(helo(plugin(false, Map.of(SubCheck.BARE_IP, Action.OFF)), s, "192.0.2.1"), s);
        FakeSession t = client();
        assertFlagged(helo(plugin(false, Map.of(SubCheck.CLAIMS_US, Action.OFF)), t, "[" + US + "]"), "literal_mismatch", t);
    }

    @Test
    void severalFlagsAllCountAndAnImmediateRefusalStopsTheRest() {
        HeloPlugin p = plugin(false, Map.of(SubCheck.CLAIMS_US, Action.FLAG));
        FakeSession s = client();
        // "example.test" is a local domain: claims_us (flagged here) and, being an FQDN, no resolution check
        assertFlagged(helo(p, s, "example.test"), "claims_us", s);
        assertEquals(5, s.trace().score());

        HeloPlugin flags = plugin(false, Map.of(SubCheck.CLAIMS_US, Action.FLAG, SubCheck.BARE_IP, Action.FLAG));
        FakeSession t = client();
        assertSame(HookResult.DECLINED, helo(flags, t, US));
        assertEquals(List.of("claims_us", "bare_ip"),
                t.trace().entries().stream().map(e -> e.reason().substring(0, e.reason().indexOf(':'))).toList());
        assertEquals(8, t.trace().score());

        FakeSession u = client();
        assertRejected(helo(direct(), u, US), "claims_us", u);
        assertEquals(1, u.trace().entries().size(), "bare_ip is not judged after claims_us refused");
    }

    @Test
    void secondEhloIsJudgedButNotScoredTwice() {
        HeloPlugin p = direct();
        FakeSession s = client();
        assertFlagged(helo(p, s, "mypc"), "not_fqdn", s);
        assertFlagged(helo(p, s, "mypc"), "not_fqdn", s); // EHLO again after STARTTLS
        assertEquals(2, s.trace().entries().size());
        assertEquals(1, s.trace().score(), "not_fqdn counted once");
        assertFlagged(helo(p, s, "[192.0.2.99]"), "literal_mismatch", s); // another sub-check still counts
        assertEquals(2, s.trace().score());
    }

    @Test
    void newNameReplacesOurDeferredRefusalButNotAnotherChecks() {
        HeloPlugin p = plugin(true, Map.of());
        FakeSession s = client();
        helo(p, s, "192.0.2.1");
        assertTrue(s.notes().has(DeferredRejection.KEY));
        assertSame(HookResult.DECLINED, helo(p, s, "good.example"));
        assertEquals("pass", last(s).result());
        assertFalse(s.notes().has(DeferredRejection.KEY), "the good name replaced the refusal of the bad one");
        assertEquals(3, s.trace().score(), "what the client said first still counts");

        FakeSession t = client();
        DeferredRejection other = new DeferredRejection("dnsbl", "connect", new Reply(554, "5.7.1", "listed"), false);
        t.notes().put(DeferredRejection.KEY, other);
        helo(p, t, "192.0.2.1");
        assertSame(other, t.notes().get(DeferredRejection.KEY).orElseThrow(), "the first deferred refusal wins");
        helo(p, t, "good.example");
        assertSame(other, t.notes().get(DeferredRejection.KEY).orElseThrow());
    }

    @Test
    void trustedClientsAndOtherRolesAreLeftAlone() {
        List<FakeSession> trusted = List.of(client().relay(true), client().allow(true), client().authenticated("alice"),
                client().role("submission"));
        for (FakeSession s : trusted) {
            assertSame(HookResult.DECLINED, helo(direct(), s, "192.0.2.1"));
            assertTrue(s.trace().entries().isEmpty(), s.trace().toString());
        }
        FakeSession vouched = client();
        vouched.notes().put(CheckPolicy.ALLOWLISTED, "list.dnswl.example");
        assertSame(HookResult.DECLINED, helo(direct(), vouched, "192.0.2.1"));
        assertTrue(vouched.trace().entries().isEmpty());
    }
    @Test
    void aNameFcrdnsConfirmedInThisSessionResolvesWithoutAnotherLookup() {
        FakeSession s = client();
        s.notes().put(dev.portcullis.plugins.fcrdns.FcrdnsPlugin.VERIFIED_NAME, "confirmed.example");
        int before = dns.queryCount();
        assertSame(HookResult.DECLINED, helo(direct(), s, "Confirmed.Example."));
        assertEquals("pass", last(s).result());
        assertEquals(before, dns.queryCount(), "fcrdns saw the name resolve to the client: nothing to ask");
        FakeSession other = client();
        other.notes().put(dev.portcullis.plugins.fcrdns.FcrdnsPlugin.VERIFIED_NAME, "good.example");
        HookResult r = helo(direct(), other, "confirmed.example");
        assertSame(HookResult.DECLINED, r, "no_resolve only flags");
        assertEquals("flag", last(other).result(), "another name than the confirmed one is looked up: " + other.trace());
    }

    @Test
    void anAddressRecordSettlesNoResolveWithoutWaitingForTheAaaa() throws Exception {
        try (TestDns held = new TestDns()) {
            held.a("dual.example", "192.0.2.81").aaaa("dual.example", "2001:db8::81").hold("dual.example", org.xbill.DNS.Type.AAAA);
            Map<SubCheck, CheckPolicy> policies = new EnumMap<>(SubCheck.class);
            for (SubCheck c : SubCheck.values()) policies.put(c, new CheckPolicy("helo", c.defaultAction, c.defaultScore, false));
            var slowClient = new dev.portcullis.dns.DnsjavaClient(List.of(held.address()), java.time.Duration.ofSeconds(30), 0, false);
            HeloPlugin p = new HeloPlugin(policies, Set.of("mx"), "mx.test", LOCAL, slowClient);
            // the AAAA answer is held back (for 30 s): the judgment is only back before that if the A decided it
            HeloPlugin.Judgment j = p.judge("dual.example", java.net.InetAddress.getByName(CLIENT), java.net.InetAddress.getByName(US));
            assertEquals(List.of(), j.findings());
            assertTrue(held.awaitQueries(java.time.Duration.ofSeconds(10), "AAAA dual.example."), "the AAAA was asked alongside: " + held.queryLog());
            held.release("dual.example");
        }
    }
}
