package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import dev.portcullis.testkit.TestDns;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** MX resolution (RFC 5321 5.1, RFC 7505) against a real DNS server on loopback serving the test's records. */
@Timeout(20)
class RoutesTest {
    TestDns dns;

    @BeforeEach void start() throws Exception { dns = new TestDns(); }

    @AfterEach void stop() { dns.close(); }

    static Config.Outbound settings(String toml) {
        return ConfigLoader.parse("test.toml", "[server]\nhostname = \"mx.test\"\n[outbound]\n" + toml, Path.of(".")).outbound();
    }

    Routes routes(String toml) {
        return new Routes(dns.client(), settings(toml), new Random(1));
    }

    static List<String> hosts(Routes.Route r) {
        return assertInstanceOf(Routes.Targets.class, r).targets().stream().map(Routes.Target::toString).toList();
    }

    static Routes.Failure failure(Routes.Route r) {
        return assertInstanceOf(Routes.Failure.class, r);
    }

    @Test void preferenceOrderIPv6FirstAndTheConfiguredPort() {
        dns.mx("example.net", 20, "backup.example.net").mx("example.net", 10, "main.example.net")
                .a("main.example.net", "192.0.2.1").aaaa("main.example.net", "2001:db8::1")
                .a("backup.example.net", "192.0.2.2");
        assertEquals(List.of("main.example.net[2001:db8:0:0:0:0:0:1]:2525", "main.example.net[192.0.2.1]:2525",
                "backup.example.net[192.0.2.2]:2525"), hosts(routes("mode = \"mx\"\nport = 2525\n").route("example.net")));
        assertEquals(List.of("main.example.net[192.0.2.1]:25", "backup.example.net[192.0.2.2]:25"),
                hosts(routes("mode = \"mx\"\naddress_family = \"ipv4\"\n").route("example.net")));
    }

    @Test void equalPreferencesAreShuffled() {
        for (int i = 0; i < 4; i++) dns.mx("spread.example", 10, "mx" + i + ".spread.example").a("mx" + i + ".spread.example", "192.0.2." + (i + 1));
        Routes r = new Routes(dns.client(), settings("mode = \"mx\""));
        Set<String> firsts = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            List<String> h = hosts(r.route("spread.example"));
            assertEquals(4, h.size());
            firsts.add(h.getFirst());
        }
        assertTrue(firsts.size() > 1, "always the same first host: " + firsts);
    }

    @Test void nullMxIsAnImmediatePermanentFailure() {
        dns.mx("nomail.example", 0, ".");
        Routes.Failure f = failure(routes("mode = \"mx\"").route("nomail.example"));
        assertTrue(f.permanent());
        assertEquals("5.1.10", f.status());
    }

    @Test void noMxFallsBackToTheDomainsAddresses() {
        dns.a("plain.example", "192.0.2.9").aaaa("plain.example", "2001:db8::9");
        assertEquals(List.of("plain.example[2001:db8:0:0:0:0:0:9]:25", "plain.example[192.0.2.9]:25"),
                hosts(routes("mode = \"mx\"").route("plain.example")));
        dns.txt("noaddress.example", "v=spf1 -all"); // exists, but neither MX nor A/AAAA
        Routes.Failure f = failure(routes("mode = \"mx\"").route("noaddress.example"));
        assertTrue(f.permanent(), f.toString());
    }

    @Test void nonexistentDomainIsPermanentAndDnsTroubleTemporary() {
        Routes.Failure nx = failure(routes("mode = \"mx\"").route("nowhere.example"));
        assertTrue(nx.permanent());
        assertEquals("5.1.2", nx.status());
        dns.servfail("broken.example");
        Routes.Failure sf = failure(routes("mode = \"mx\"").route("broken.example"));
        assertFalse(sf.permanent());
        assertEquals("4.4.3", sf.status());
        dns.mx("slow.example", 10, "mx.slow.example").timeout("mx.slow.example");
        Routes.Failure to = failure(routes("mode = \"mx\"").route("slow.example"));
        assertFalse(to.permanent(), to.toString());
    }

    @Test void mxHostsWithoutAddressesDeferAndAnMxPointingAtUsIsALoop() {
        dns.mx("dangling.example", 10, "gone.dangling.example");
        Routes.Failure d = failure(routes("mode = \"mx\"").route("dangling.example"));
        assertFalse(d.permanent(), d.toString());
        dns.mx("loop.example", 10, "mx.test").a("mx.test", "192.0.2.7");
        Routes.Failure loop = failure(routes("mode = \"mx\"").route("loop.example"));
        assertEquals("5.4.6", loop.status());
        dns.mx("loop.example", 20, "other.loop.example").a("other.loop.example", "192.0.2.8");
        assertEquals(List.of("other.loop.example[192.0.2.8]:25"), hosts(routes("mode = \"mx\"").route("loop.example")));
    }

    @Test void smarthostByLiteralOrByNameButNeverByMx() {
        assertEquals(List.of("[192.0.2.5]:587"),
                hosts(routes("mode = \"smarthost\"\nsmarthost = \"192.0.2.5:587\"").route("anything.example")));
        assertEquals(List.of("[2001:db8:0:0:0:0:0:5]:2525"),
                hosts(routes("mode = \"smarthost\"\nsmarthost = \"[2001:db8::5]:2525\"").route("anything.example")));
        dns.a("relay.isp.example", "192.0.2.6").mx("relay.isp.example", 10, "elsewhere.example");
        assertEquals(List.of("relay.isp.example[192.0.2.6]:25"),
                hosts(routes("mode = \"smarthost\"\nsmarthost = \"relay.isp.example\"").route("anything.example")));
        Routes.Failure f = failure(routes("mode = \"smarthost\"\nsmarthost = \"missing.isp.example:587\"").route("x.example"));
        assertFalse(f.permanent(), "a smarthost that does not resolve is our problem: mail waits");
    }

    @Test void smarthostDomainsRouteTheRestByMx() {
        dns.mx("direct.example", 10, "mx.direct.example").a("mx.direct.example", "192.0.2.10");
        Routes r = routes("mode = \"smarthost\"\nsmarthost = \"192.0.2.5:587\"\nsmarthost_domains = [\"corp.example\"]");
        assertEquals(List.of("[192.0.2.5]:587"), hosts(r.route("corp.example")));
        assertEquals(List.of("mx.direct.example[192.0.2.10]:25"), hosts(r.route("direct.example")));
    }
}
