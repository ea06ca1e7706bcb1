package dev.portcullis.plugins.fcrdns;

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

/** Forward-confirmed reverse DNS against the in-process DNS server. */
@Timeout(30)
class FcrdnsPluginTest {
    TestDns dns;
    PluginHarness h;

    @BeforeEach void start() throws Exception {
        dns = new TestDns();
        h = PluginHarness.inMemory(dns.client());
    }

    @AfterEach void stop() {
        h.close();
        dns.close();
    }

    FcrdnsPlugin plugin(String body) {
        return h.plugin("fcrdns", body);
    }

    static HookResult connect(FcrdnsPlugin p, FakeSession s) {
        p.onPreConnect(new ConnectContext(s));
        return p.onConnect(new ConnectContext(s));
    }

    static DecisionTrace.Entry last(FakeSession s) { return s.trace.entries().getLast(); }

    @Test void confirmedNamePassesAndIsShared() {
        dns.ptr("192.0.2.10", "Mail.Example.test").a("mail.example.test", "192.0.2.10");
        FakeSession s = new FakeSession("192.0.2.10");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"reject\""), s));
        assertEquals("mail.example.test", s.notes.get(FcrdnsPlugin.VERIFIED_NAME).orElseThrow());
        assertEquals("pass", last(s).result());
        assertEquals(0.0, s.trace.score());
        assertTrue(dns.queryLog().contains("PTR 10.2.0.192.in-addr.arpa."), dns.queryLog().toString());
    }

    @Test void anyOfSeveralNamesMayConfirm() {
        dns.ptr("192.0.2.10", "wrong.example.test", "right.example.test")
                .a("wrong.example.test", "192.0.2.99").a("right.example.test", "192.0.2.7", "192.0.2.10");
        FakeSession s = new FakeSession("192.0.2.10");
        connect(plugin("action = \"reject\""), s);
        assertEquals("right.example.test", s.notes.get(FcrdnsPlugin.VERIFIED_NAME).orElseThrow());
    }

    @Test void ipv6ClientIsConfirmedByAaaa() {
        dns.ptr("2001:db8::25", "v6.example.test").a("v6.example.test", "192.0.2.25").aaaa("v6.example.test", "2001:db8::25");
        FakeSession s = new FakeSession("2001:db8::25");
        connect(plugin("action = \"reject\""), s);
        assertEquals("v6.example.test", s.notes.get(FcrdnsPlugin.VERIFIED_NAME).orElseThrow());
        assertTrue(dns.queryLog().contains("AAAA v6.example.test."), dns.queryLog().toString());
    }

    @Test void noPtrIsFlaggedByDefault() {
        FakeSession s = new FakeSession("192.0.2.11");
        assertInstanceOf(HookResult.Declined.class, connect(plugin(""), s));
        assertFalse(s.notes.has(FcrdnsPlugin.VERIFIED_NAME));
        assertFalse(s.notes.has(DeferredRejection.KEY));
        assertEquals("flag", last(s).result());
        assertEquals(2.0, last(s).score());
        assertEquals("no PTR record for 192.0.2.11", last(s).reason());
    }

    @Test void mismatchIsRejectedWhenConfigured() {
        dns.ptr("192.0.2.12", "forged.example.test").a("forged.example.test", "198.51.100.12");
        FakeSession s = new FakeSession("192.0.2.12");
        var deny = assertInstanceOf(HookResult.Deny.class, connect(plugin("action = \"reject\"\ndefer_to_rcpt = false"), s));
        assertEquals(550, deny.reply().code());
        assertEquals("5.7.25", deny.reply().enhanced());
        assertEquals("Client host rejected: cannot find your hostname, [192.0.2.12]", deny.reply().text());
        assertEquals("reject", last(s).result());
        assertTrue(last(s).reason().contains("forged.example.test does not resolve back"), last(s).reason());
    }

    @Test void nameWithoutAddressIsAMismatch() {
        dns.ptr("192.0.2.13", "gone.example.test");
        FakeSession s = new FakeSession("192.0.2.13");
        connect(plugin("action = \"reject\""), s);
        DeferredRejection d = s.notes.get(DeferredRejection.KEY).orElseThrow();
        assertEquals(550, d.reply().code(), "deferred to RCPT by default");
    }

    @Test void requirePtrAcceptsAnUnconfirmedName() {
        dns.ptr("192.0.2.12", "forged.example.test").a("forged.example.test", "198.51.100.12");
        FakeSession s = new FakeSession("192.0.2.12");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"reject\"\nrequire = \"ptr\""), s));
        assertEquals("pass", last(s).result());
        assertFalse(s.notes.has(FcrdnsPlugin.VERIFIED_NAME), "not confirmed, so not shared");
        FakeSession none = new FakeSession("192.0.2.14");
        var deny = assertInstanceOf(HookResult.Deny.class, connect(plugin("action = \"reject\"\nrequire = \"ptr\"\ndefer_to_rcpt = false"), none));
        assertEquals("Client host rejected: cannot find your reverse hostname, [192.0.2.14]", deny.reply().text());
    }

    @Test void dnsTimeoutIsASkipNeverAFailure() {
        dns.timeout("15.2.0.192.in-addr.arpa");
        FakeSession s = new FakeSession("192.0.2.15");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"disconnect\""), s));
        assertEquals("skip", last(s).result());
        assertFalse(s.notes.has(DeferredRejection.KEY));
    }

    @Test void forwardServfailIsASkip() {
        dns.ptr("192.0.2.16", "flaky.example.test").servfail("flaky.example.test");
        FakeSession s = new FakeSession("192.0.2.16");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"reject\"\ndefer_to_rcpt = false"), s));
        assertEquals("skip", last(s).result());
        assertTrue(last(s).reason().contains("flaky.example.test"), last(s).reason());
    }

    @Test void joinTimeoutIsASkip() {
        dns.timeout("15.2.0.192.in-addr.arpa");
        FakeSession s = new FakeSession("192.0.2.15");
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"reject\"\ntimeout = \"100ms\""), s));
        assertEquals("skip", last(s).result());
        assertTrue(last(s).reason().contains("within 100ms"), last(s).reason());
    }

    @Test void tempfailOnDnsErrorGivesA4xxNeverA5xx() {
        dns.timeout("15.2.0.192.in-addr.arpa");
        FakeSession s = new FakeSession("192.0.2.15");
        var soft = assertInstanceOf(HookResult.DenySoft.class,
                connect(plugin("action = \"reject\"\ntempfail_on_dns_error = true\ndefer_to_rcpt = false"), s));
        assertEquals(451, soft.reply().code());
        assertEquals("4.7.25", soft.reply().enhanced());
        assertEquals("tempfail", last(s).result());
        assertEquals(0.0, last(s).score());

        FakeSession deferred = new FakeSession("192.0.2.15");
        connect(plugin("action = \"reject\"\ntempfail_on_dns_error = true"), deferred);
        assertTrue(deferred.notes.get(DeferredRejection.KEY).orElseThrow().reply().isTransient());
    }

    @Test void exemptClientsAreLeftAlone() {
        FakeSession relay = new FakeSession("192.0.2.11");
        relay.relayClient = true;
        assertInstanceOf(HookResult.Declined.class, connect(plugin("action = \"reject\"\ndefer_to_rcpt = false"), relay));
        assertTrue(relay.trace.entries().isEmpty());
        assertTrue(dns.queryLog().isEmpty());

        FakeSession vouched = new FakeSession("192.0.2.11");
        FcrdnsPlugin p = plugin("action = \"reject\"\ndefer_to_rcpt = false");
        p.onPreConnect(new ConnectContext(vouched));
        vouched.notes.put(CheckPolicy.ALLOWLISTED, "dnswl");
        assertInstanceOf(HookResult.Declined.class, p.onConnect(new ConnectContext(vouched)));
        assertTrue(vouched.trace.entries().isEmpty());
    }

    @Test void configErrors() {
        for (String body : List.of("require = \"a\"", "timeout = \"0s\"", "action = \"allow\"", "tempfail_on_dns_error = \"yes\"", "zones = []")) {
            var e = assertThrows(PluginSettings.SettingException.class, () -> plugin(body), body);
            assertTrue(e.getMessage().startsWith("test.toml:"), e.getMessage());
        }
    }
}
