package dev.portcullis.plugins.dnsbl;

import dev.portcullis.testkit.FakeSession;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
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

@Timeout(30)
class DnswlPluginTest {
    TestDns dns;
    PluginHarness h;

    @BeforeEach void start() throws Exception {
        dns = new TestDns().ttl(0);
        h = PluginHarness.inMemory(dns.client());
        dns.a("2.0.0.127.wl.test", "127.0.10.0"); // dnswl.org's style of test entry answer
    }

    @AfterEach void stop() {
        h.close();
        dns.close();
    }

    DnswlPlugin dnswl(String body) { return h.plugin("dnswl", body); }

    DnsblPlugin dnsbl(String body) { return h.plugin("dnsbl", body); }

    @Test void listedClientIsAllowlistedWithTheDefaultScore() {
        dns.a("2.2.0.192.wl.test", "127.0.10.3");
        FakeSession s = new FakeSession("192.0.2.2");
        DnswlPlugin p = dnswl("zones = [\"wl.test\"]");
        p.onPreConnect(new ConnectContext(s));
        assertInstanceOf(HookResult.Declined.class, p.onConnect(new ConnectContext(s)));
        assertTrue(s.notes.get(CheckPolicy.ALLOWLISTED).orElseThrow().contains("wl.test=127.0.10.3"));
        assertTrue(CheckPolicy.exempt(s));
        var e = s.trace.entries().getLast();
        assertEquals("dnswl", e.plugin());
        assertEquals("pass", e.result());
        assertEquals(-5.0, e.score());
    }

    @Test void weightsPerTrustLevel() {
        dns.a("2.2.0.192.wl.test", "127.0.10.1");
        FakeSession s = new FakeSession("192.0.2.2");
        DnswlPlugin p = dnswl("zones = [\"wl.test=127.0.[0..255].[2;3]*-10\", \"wl.test=127.0.[0..255].1*-2\"]");
        p.onPreConnect(new ConnectContext(s));
        p.onConnect(new ConnectContext(s));
        assertEquals(-2.0, s.trace.score(), s.trace.toString());
        assertTrue(s.notes.has(CheckPolicy.ALLOWLISTED));
    }

    @Test void notListedLeavesTheClientAStranger() {
        FakeSession s = new FakeSession("192.0.2.3");
        DnswlPlugin p = dnswl("zones = [\"wl.test\"]");
        p.onPreConnect(new ConnectContext(s));
        p.onConnect(new ConnectContext(s));
        assertFalse(s.notes.has(CheckPolicy.ALLOWLISTED));
        assertEquals(0.0, s.trace.score());
    }

    @Test void timeoutIsASkipAndNoAllowlisting() {
        dns.timeout("2.2.0.192.wl.test");
        FakeSession s = new FakeSession("192.0.2.2");
        DnswlPlugin p = dnswl("zones = [\"wl.test\"]");
        p.onPreConnect(new ConnectContext(s));
        p.onConnect(new ConnectContext(s));
        assertFalse(s.notes.has(CheckPolicy.ALLOWLISTED));
        assertEquals("skip", s.trace.entries().getLast().result());
    }

    @Test void dnswlBeforeDnsblExemptsTheClient() {
        dns.a("2.2.0.192.wl.test", "127.0.10.2").a("2.0.0.127.bl.test", "127.0.0.2").a("2.2.0.192.bl.test", "127.0.0.2");
        DnswlPlugin wl = dnswl("zones = [\"wl.test\"]");
        DnsblPlugin bl = dnsbl("zones = [\"bl.test\"]");
        FakeSession s = new FakeSession("192.0.2.2");
        // the server's order: every pre_connect, then the connect hooks in chain order
        wl.onPreConnect(new ConnectContext(s));
        bl.onPreConnect(new ConnectContext(s));
        assertInstanceOf(HookResult.Declined.class, wl.onConnect(new ConnectContext(s)));
        assertInstanceOf(HookResult.Declined.class, bl.onConnect(new ConnectContext(s)));
        assertFalse(s.notes.has(DeferredRejection.KEY), s.trace.toString());
        assertEquals(List.of("dnswl"), s.trace.entries().stream().map(e -> e.plugin()).toList());
    }

    @Test void configErrors() {
        for (String body : List.of("zones = [\"wl.test*3\"]", "zones = [\"wl.test\"]\nscore = 1", "zones = [\"wl.test\"]\naction = \"reject\"",
                "zones = [\"wl.test\"]\ndefer_to_rcpt = true", "zones = [\"wl.test\"]\nquote_txt = true", "zones = []")) {
            var e = assertThrows(PluginSettings.SettingException.class, () -> dnswl(body), body);
            assertTrue(e.getMessage().startsWith("test.toml:"), e.getMessage());
        }
        dnswl("action = \"off\""); // no zones needed when off
    }
}
