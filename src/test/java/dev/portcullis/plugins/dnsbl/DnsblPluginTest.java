package dev.portcullis.plugins.dnsbl;

import dev.portcullis.testkit.FakeSession;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.testkit.PluginHarness;
import dev.portcullis.testkit.TestDns;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The dnsbl plugin's decisions against zones served by the in-process DNS server. */
@Timeout(30)
class DnsblPluginTest {
    TestDns dns;
    PluginHarness h;

    @BeforeEach void start() throws Exception {
        dns = new TestDns().ttl(0); // no caching between steps: tests change the zones
        h = PluginHarness.inMemory(dns.client());
    }

    @AfterEach void stop() {
        h.close();
        dns.close();
    }

    /** A zone that passes RFC 5782's test entries (lists 127.0.0.2, not 127.0.0.1). */
    TestDns saneZone(String zone) { return dns.a("2.0.0.127." + zone, "127.0.0.2"); }

    DnsblPlugin plugin(String body) {
        return h.plugin("dnsbl", body);
    }

    static HookResult connect(DnsblPlugin p, FakeSession s) {
        p.onPreConnect(new ConnectContext(s));
        return p.onConnect(new ConnectContext(s));
    }

    static List<String> results(FakeSession s) {
        return s.trace.entries().stream().map(DecisionTrace.Entry::result).toList();
    }

    static DecisionTrace.Entry last(FakeSession s) { return s.trace.entries().getLast(); }

    // ---- queries ----

    @Test void asksEveryZoneWithTheReversedAddress() {
        saneZone("a.test");
        saneZone("b.test");
        DnsblPlugin p = plugin("zones = [\"a.test\", \"b.test\"]");
        FakeSession s = new FakeSession("192.0.2.99");
        assertInstanceOf(HookResult.Declined.class, connect(p, s));
        assertTrue(dns.queryLog().contains("A 99.2.0.192.a.test."), dns.queryLog().toString());
        assertTrue(dns.queryLog().contains("A 99.2.0.192.b.test."), dns.queryLog().toString());
        assertEquals("pass", last(s).result());
        assertEquals("not listed", last(s).reason());
    }

    @Test void ipv6ClientIsLookedUpByNibbles() {
        saneZone("bl.test").a("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test", "127.0.0.2");
        DnsblPlugin p = plugin("zones = [\"bl.test\"]\ndefer_to_rcpt = false");
        HookResult r = connect(p, new FakeSession("2001:db8:1:2:3:4:567:89ab"));
        var deny = assertInstanceOf(HookResult.Deny.class, r);
        assertEquals(554, deny.reply().code());
        assertEquals("5.7.1", deny.reply().enhanced());
        assertEquals("Service unavailable; client [2001:db8:1:2:3:4:567:89ab] blocked using bl.test", deny.reply().text());
    }

    // ---- actions ----

    @Test void rejectIsDeferredToRcptByDefault() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.4");
        DnsblPlugin p = plugin("zones = [\"bl.test\"]");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(p, s));
        DeferredRejection d = s.notes.get(DeferredRejection.KEY).orElseThrow();
        assertEquals("dnsbl", d.check());
        assertEquals(554, d.reply().code());
        assertEquals("5.7.1", d.reply().enhanced());
        assertEquals("Service unavailable; client [192.0.2.2] blocked using bl.test", d.reply().text());
        DecisionTrace.Entry e = last(s);
        assertEquals("reject", e.result());
        assertEquals(1.0, e.score());
        assertTrue(e.reason().contains("bl.test=127.0.0.4"), e.reason());
    }

    @Test void tempfailAndDisconnect() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2");
        var soft = assertInstanceOf(HookResult.DenySoft.class,
                connect(plugin("zones = [\"bl.test\"]\naction = \"tempfail\"\ndefer_to_rcpt = false"), new FakeSession("192.0.2.2")));
        assertEquals(451, soft.reply().code());
        assertEquals("4.7.1", soft.reply().enhanced());
        var gone = assertInstanceOf(HookResult.Deny.class,
                connect(plugin("zones = [\"bl.test\"]\naction = \"disconnect\""), new FakeSession("192.0.2.2")));
        assertTrue(gone.disconnect(), "disconnect is never deferred");
    }

    @Test void flagRecordsTheListingAndAccepts() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2", "127.0.0.11");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("zones = [\"bl.test\"]\naction = \"flag\"\nscore = 4"), s));
        assertFalse(s.notes.has(DeferredRejection.KEY));
        assertEquals("flag", last(s).result());
        assertEquals(4.0, last(s).score());
        assertTrue(last(s).reason().contains("bl.test=127.0.0.2,127.0.0.11"), last(s).reason());
    }

    // ---- weights, filters, threshold ----

    @Test void weightsAreSummedAgainstTheThreshold() {
        saneZone("a.test");
        saneZone("b.test");
        dns.a("2.2.0.192.a.test", "127.0.0.2").a("3.2.0.192.a.test", "127.0.0.2").a("3.2.0.192.b.test", "127.0.0.3");
        DnsblPlugin p = plugin("zones = [\"a.test*2\", \"b.test=127.0.0.[2..3]*1.5\"]\nthreshold = 3\ndefer_to_rcpt = false");

        FakeSession once = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(p, once), "2 < 3");
        assertEquals("pass", last(once).result());
        assertEquals(2.0, last(once).score(), "the weight counts toward karma even below the threshold");

        FakeSession twice = new FakeSession("192.0.2.3");
        assertInstanceOf(HookResult.Deny.class, connect(p, twice), "2 + 1.5 >= 3");
        assertEquals(3.5, last(twice).score());
        assertTrue(last(twice).reason().contains("a.test=127.0.0.2") && last(twice).reason().contains("b.test=127.0.0.3"),
                last(twice).reason());
    }

    @Test void answersOutsideTheFilterAreNotListings() {
        saneZone("zen.test").a("2.2.0.192.zen.test", "127.0.0.12");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("zones = [\"zen.test=127.0.0.[2..11]\"]\ndefer_to_rcpt = false"), s));
        assertEquals("pass", last(s).result());
        assertEquals(0.0, s.trace.score());
    }

    @Test void sameZoneTwiceIsAskedOnceAndEachFilterWeighs() {
        saneZone("zen.test").a("2.2.0.192.zen.test", "127.0.0.2", "127.0.0.10");
        DnsblPlugin p = plugin("zones = [\"zen.test=127.0.0.[2..3]*3\", \"zen.test=127.0.0.[10..11]*0.5\", \"zen.test=127.0.0.4*7\"]\n"
                + "action = \"flag\"");
        FakeSession s = new FakeSession("192.0.2.2");
        connect(p, s);
        assertEquals(3.5, last(s).score());
        assertEquals(1, dns.queryLog().stream().filter(q -> q.equals("A 2.2.0.192.zen.test.")).count());
    }

    @Test void scoreIsTheDefaultWeight() {
        saneZone("a.test").a("2.2.0.192.a.test", "127.0.0.2");
        FakeSession s = new FakeSession("192.0.2.2");
        connect(plugin("zones = [\"a.test\"]\nscore = 0.5\nthreshold = 0.5\naction = \"flag\""), s);
        assertEquals("flag", last(s).result());
        assertEquals(0.5, last(s).score());
    }

    // ---- errors are never listings ----

    @Test void refusalAndForeignAnswersAreSkippedNotListed() {
        saneZone("spamhaus.test").a("2.2.0.192.spamhaus.test", "127.255.255.254");
        saneZone("wild.test").a("2.2.0.192.wild.test", "198.51.100.1");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("zones = [\"spamhaus.test\", \"wild.test\"]\ndefer_to_rcpt = false"), s));
        assertFalse(s.notes.has(DeferredRejection.KEY));
        assertEquals(List.of("skip", "skip"), results(s), "no zone could say, so no pass either: " + s.trace);
        assertTrue(s.trace.entries().get(0).reason().startsWith("spamhaus.test: answer 127.255.255.254"), s.trace.toString());
        assertTrue(s.trace.entries().get(1).reason().contains("outside 127.0.0.0/8"), s.trace.toString());
        assertEquals(0.0, s.trace.score());
    }

    @Test void dnsTimeoutNeverRejects() {
        saneZone("slow.test").timeout("2.2.0.192.slow.test");
        saneZone("fail.test").servfail("2.2.0.192.fail.test");
        FakeSession s = new FakeSession("192.0.2.2");
        HookResult r = connect(plugin("zones = [\"slow.test\", \"fail.test\"]\ndefer_to_rcpt = false\naction = \"disconnect\""), s);
        assertInstanceOf(HookResult.Declined.class, r);
        assertFalse(s.notes.has(DeferredRejection.KEY));
        assertEquals(List.of("skip", "skip"), results(s), s.trace.toString());
        assertTrue(s.trace.toString().contains("no answer"), s.trace.toString());
    }

    @Test void joinTimeoutShorterThanTheResolverIsASkip() {
        saneZone("slow.test").timeout("2.2.0.192.slow.test");
        FakeSession s = new FakeSession("192.0.2.2");
        HookResult r = connect(plugin("zones = [\"slow.test\"]\ntimeout = \"150ms\"\ndefer_to_rcpt = false"), s);
        assertInstanceOf(HookResult.Declined.class, r);
        assertEquals("skip", last(s).result());
        assertTrue(last(s).reason().contains("within 150ms"), last(s).reason());
    }

    // ---- broken zones (RFC 5782 5) ----

    @Test void zoneListing127001IsIgnored() {
        saneZone("wild.test").a("1.0.0.127.wild.test", "127.0.0.2").a("2.2.0.192.wild.test", "127.0.0.2");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("zones = [\"wild.test\"]\ndefer_to_rcpt = false"), s));
        assertEquals(List.of("skip"), results(s));
        assertTrue(last(s).reason().contains("looks broken") && last(s).reason().contains("lists 127.0.0.1"), last(s).reason());
    }

    @Test void zoneNotListing127002IsIgnoredUntilItLooksSaneAgain() {
        dns.a("2.2.0.192.dead.test", "127.0.0.2");
        DnsblPlugin p = plugin("zones = [\"dead.test\"]\ndefer_to_rcpt = false");

        FakeSession first = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(p, first));
        assertTrue(last(first).reason().contains("does not list the test entry 127.0.0.2"), last(first).reason());

        saneZone("dead.test"); // repaired, but the verdict is cached for ten minutes
        FakeSession second = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(p, second));
        assertEquals("skip", last(second).result());
        assertEquals(1, dns.queryLog().stream().filter(q -> q.equals("A 2.0.0.127.dead.test.")).count(),
                "tested once, not per session: " + dns.queryLog());
        // the first session asks only if its lookup starts before the background test has finished: 0 or 1
        assertTrue(dns.queryLog().stream().filter(q -> q.equals("A 2.2.0.192.dead.test.")).count() <= 1,
                "a zone known broken is not even asked: " + dns.queryLog());

        h.clock.advance(ZoneHealth.RECHECK);
        connect(p, new FakeSession("192.0.2.2")); // triggers the retest in the background
        HookResult after = awaitNotDeclined(p, "192.0.2.2");
        assertInstanceOf(HookResult.Deny.class, after, "counts again once it passed");
    }

    @Test void checkZonesOffTrustsEveryZone() {
        dns.a("2.2.0.192.dead.test", "127.0.0.2");
        HookResult r = connect(plugin("zones = [\"dead.test\"]\ndefer_to_rcpt = false\ncheck_zones = false"), new FakeSession("192.0.2.2"));
        assertInstanceOf(HookResult.Deny.class, r);
        assertFalse(dns.queryLog().contains("A 2.0.0.127.dead.test."), dns.queryLog().toString());
    }

    /** The background retest finishes on its own thread: poll sessions until one is decided (bounded by @Timeout). */
    static HookResult awaitNotDeclined(DnsblPlugin p, String ip) {
        while (true) {
            HookResult r = connect(p, new FakeSession(ip));
            if (!(r instanceof HookResult.Declined)) return r;
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    // ---- TXT quoting ----

    @Test void txtIsQuotedSanitisedAndCannotInjectAReplyLine() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2")
                .txt("2.2.0.192.bl.test", "Listed, see https://bl.test/q?192.0.2.2\r\n250 2.0.0 Ok %{ip}\u0007");
        DnsblPlugin p = plugin("zones = [\"bl.test\"]\nquote_txt = true\ndefer_to_rcpt = false");
        var deny = assertInstanceOf(HookResult.Deny.class, connect(p, new FakeSession("192.0.2.2")));
        assertEquals("Service unavailable; client [192.0.2.2] blocked using bl.test; "
                + "Listed, see https://bl.test/q?192.0.2.2 250 2.0.0 Ok %{ip}", deny.reply().text());
        String wire = deny.reply().wire();
        assertEquals(1, wire.split("\r\n", -1).length - 1, "one reply line: " + wire);
        assertTrue(wire.startsWith("554 5.7.1 "), wire);
    }

    @Test void txtPlaceholderAndTruncation() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2").txt("2.2.0.192.bl.test", "y".repeat(1000));
        DnsblPlugin p = plugin("zones = [\"bl.test\"]\nquote_txt = true\ndefer_to_rcpt = false\n"
                + "reply_text = \"Blocked by %{zone}: %{txt}\"");
        var deny = assertInstanceOf(HookResult.Deny.class, connect(p, new FakeSession("192.0.2.2")));
        assertEquals("Blocked by bl.test: " + "y".repeat(200) + "...", deny.reply().text());
    }

    @Test void withoutQuoteTxtTheTxtIsNeitherAskedNorShown() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2").txt("2.2.0.192.bl.test", "secret");
        var deny = assertInstanceOf(HookResult.Deny.class,
                connect(plugin("zones = [\"bl.test\"]\ndefer_to_rcpt = false\nreply_text = \"No [%{txt}]\""), new FakeSession("192.0.2.2")));
        assertEquals("No []", deny.reply().text());
        assertFalse(dns.queryLog().contains("TXT 2.2.0.192.bl.test."));
    }

    // ---- exemptions ----

    @Test void exemptClientsAreNeverLookedUp() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2");
        DnsblPlugin p = plugin("zones = [\"bl.test\"]");
        FakeSession relay = new FakeSession("192.0.2.2");
        relay.relayClient = true;
        FakeSession allowed = new FakeSession("192.0.2.2");
        allowed.allowlisted = true;
        assertInstanceOf(HookResult.Declined.class, connect(p, relay));
        assertInstanceOf(HookResult.Declined.class, connect(p, allowed));
        assertTrue(relay.trace.entries().isEmpty() && allowed.trace.entries().isEmpty());
        assertTrue(dns.queryLog().isEmpty(), dns.queryLog().toString());
    }

    @Test void anAllowlistNoteSetBeforeTheDecisionWins() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2");
        DnsblPlugin p = plugin("zones = [\"bl.test\"]\ndefer_to_rcpt = false");
        FakeSession s = new FakeSession("192.0.2.2");
        p.onPreConnect(new ConnectContext(s));
        s.notes.put(CheckPolicy.ALLOWLISTED, "dnswl: wl.test"); // what a dnswl earlier in the chain does at connect
        assertInstanceOf(HookResult.Declined.class, p.onConnect(new ConnectContext(s)));
        assertTrue(s.trace.entries().isEmpty());
    }

    @Test void offDoesNothing() {
        DnsblPlugin p = plugin("action = \"off\"");
        FakeSession s = new FakeSession("192.0.2.2");
        assertInstanceOf(HookResult.Declined.class, connect(p, s));
        assertTrue(dns.queryLog().isEmpty());
    }

    // ---- configuration errors name the key ----

    @Test void badZoneSyntaxIsAConfigErrorNamingTheKey() {
        var e = assertThrows(PluginSettings.SettingException.class, () -> plugin("zones = [\"ok.test\", \"bl.test=127.0.0.[9..2]*3\"]"));
        assertTrue(e.getMessage().contains("test.toml:3") && e.getMessage().contains("zones")
                && e.getMessage().contains("bl.test=127.0.0.[9..2]*3"), e.getMessage());
    }

    @Test void otherConfigErrors() {
        for (String body : List.of("zones = []", "zones = [\"a.test\"]\nthreshold = 0", "zones = [\"a.test\"]\nreply_text = \"%{helo}\"",
                "zones = [\"a.test\"]\nreply_text = \"caf\u00e9\"", "zones = [\"a.test\"]\ntimeout = \"0s\"", "zones = [\"a.test\"]\naction = \"allow\"",
                "zones = [\"a.test\"]\nthreshhold = 2")) {
            assertThrows(PluginSettings.SettingException.class, () -> plugin(body), body);
        }
    }

    @Test void defaultsAreTheDocumentedOnes() {
        saneZone("bl.test").a("2.2.0.192.bl.test", "127.0.0.2");
        FakeSession s = new FakeSession("192.0.2.2");
        connect(plugin("zones = [\"bl.test\"]"), s);
        assertEquals("reject", last(s).result());
        assertEquals(1.0, last(s).score());
        assertTrue(s.notes.has(DeferredRejection.KEY), "deferred to RCPT");
    }
}
