package dev.portcullis.plugins.fcrdns;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The connection-level lookups of dnswl, dnsbl and fcrdns all start when the connection is accepted
 * (pre_connect) and are joined at connect; fcrdns' forward lookup follows its PTR answer at once; and a HELO
 * name that fcrdns has just confirmed is not looked up again. Shown by the DNS server: with the answers held
 * back, the three first questions arrive before any is answered.
 */
@Timeout(60)
class ConnectLookupsOverlapTest {
    @TempDir Path dir;

    @Test void dnswlDnsblAndPtrAreAskedTogetherAndTheHeloNameIsNotAskedAgain() throws Exception {
        try (TestDns dns = new TestDns()) {
            dns.ptr("127.0.0.1", "client.remote.test").a("client.remote.test", "127.0.0.1")
                    .hold("1.0.0.127.in-addr.arpa").hold("1.0.0.127.wl.test").hold("1.0.0.127.bl.test");
            TestServer server = TestServer.in(dir)
                    .section("dns", "servers = [\"127.0.0.1:" + dns.address().getPort() + "\"]\ntimeout = \"20s\"\nretries = 0\n")
                    .toml("""
                            [[plugin]]
                            name = "dnswl"
                            zones = ["wl.test"]
                            check_zones = false
                            [[plugin]]
                            name = "dnsbl"
                            zones = ["bl.test"]
                            check_zones = false
                            [[plugin]]
                            name = "fcrdns"
                            [[plugin]]
                            name = "helo"
                            [[plugin]]
                            name = "relay"
                            [[plugin]]
                            name = "rcpt"
                            """)
                    .start();
            try (server; SmtpScript c = SmtpScript.connect(server.port())) {
                assertTrue(dns.awaitQueries(Duration.ofSeconds(15),
                                "PTR 1.0.0.127.in-addr.arpa.", "A 1.0.0.127.wl.test.", "A 1.0.0.127.bl.test."),
                        "all three in flight while none is answered: " + dns.queryLog());
                dns.release("1.0.0.127.in-addr.arpa").release("1.0.0.127.wl.test").release("1.0.0.127.bl.test");
                c.expect(220, null);
                c.command("EHLO client.remote.test", 250, null);
                assertTrue(dns.queryLog().contains("A client.remote.test."), "fcrdns' forward lookup: " + dns.queryLog());
                assertFalse(dns.queryLog().contains("AAAA client.remote.test."),
                        "the HELO name is the one fcrdns confirmed: not asked again: " + dns.queryLog());
                c.quit();
            }
        }
    }
}
