package dev.portcullis.plugins.spf;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** SPF through a real server: the client's source address decides pass or fail against the test zone. */
@Timeout(60)
class SpfPluginTest {
    /** Tests share one server: each finds its message in alice's Maildir by a marker of its own. */
    static final Duration DELIVERY = Duration.ofSeconds(10);

    @TempDir static Path dir;
    static TestDns dns;
    static TestServer server;

    @BeforeAll static void start() throws Exception {
        dns = new TestDns();
        dns.txt("strict.test", "v=spf1 ip4:127.0.0.2 -all")
                .txt("soft.test", "v=spf1 ip4:127.0.0.2 ~all")
                .txt("explained.test", "v=spf1 -all exp=why.explained.test")
                .txt("why.explained.test", "%{i} is not one of %{d}'s mail servers")
                .txt("broken.test", "v=spf1 ip4:999.1.1.1 -all")
                .timeout("slow.test");
        server = TestServer.in(dir)
                .dns(dns)
                .toml("[[plugin]]\nname = \"spf\"\n[[plugin]]\nname = \"relay\"\n[[plugin]]\nname = \"rcpt\"\n")
                .start();
    }

    @AfterAll static void stop() {
        server.close();
        dns.close();
    }

    private static dev.portcullis.testkit.Processes.Result send(String from, String localInterface, String body) throws Exception {
        return Swaks.run(server.port(), "--local-interface", localInterface, "--from", from, "--to", "alice@example.test",
                "--body", body);
    }

    @Test void passAddsReceivedSpfHeader() throws Exception {
        send("a@strict.test", "127.0.0.2", "spf pass").assertSuccess();
        String msg = server.awaitMessage("alice", "spf pass", DELIVERY);
        assertTrue(msg.contains("Received-SPF: pass"), msg);
        assertTrue(msg.contains("client-ip=127.0.0.2"), msg);
    }

    @Test void failIsRejectedAtMailWithTheDomainsExplanation() throws Exception {
        var r = send("a@strict.test", "127.0.0.3", "spf fail");
        assertTrue(r.output().contains("550 5.7.23"), r.describe("spf fail"));
        var e = send("a@explained.test", "127.0.0.3", "spf explained");
        assertTrue(e.output().contains("127.0.0.3 is not one of explained.test's mail servers"), e.describe("exp="));
    }

    @Test void softfailIsFlaggedNotRefused() throws Exception {
        send("a@soft.test", "127.0.0.4", "spf softfail").assertSuccess();
        String msg = server.awaitMessage("alice", "spf softfail", DELIVERY);
        assertTrue(msg.contains("Received-SPF: softfail"), msg);
        assertTrue(msg.contains("X-Portcullis-Flag: spf (mail)"), msg);
    }

    @Test void dnsTimeoutIsTemporaryNeverPermanent() throws Exception {
        var r = send("a@slow.test", "127.0.0.5", "spf temperror");
        assertTrue(r.output().contains("451 4.7.24"), r.describe("temperror"));
    }

    @Test void permerrorIsFlagged() throws Exception {
        send("a@broken.test", "127.0.0.6", "spf permerror").assertSuccess();
        String msg = server.awaitMessage("alice", "spf permerror", DELIVERY);
        assertTrue(msg.contains("Received-SPF: permerror"), msg);
    }
}
