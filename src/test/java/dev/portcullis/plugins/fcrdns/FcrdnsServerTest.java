package dev.portcullis.plugins.fcrdns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * fcrdns through a real server with swaks bound to chosen loopback addresses: 127.0.0.4 has confirmed rDNS,
 * 127.0.0.5 has no PTR, 127.0.0.6 has a PTR that points elsewhere. No allow or relay networks.
 */
@Timeout(90)
class FcrdnsServerTest {
    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestDns dns;
    TestServer server;

    @BeforeEach void zones() throws Exception {
        dns = new TestDns();
        dns.ptr("127.0.0.4", "good.client.test").a("good.client.test", "127.0.0.4");
        dns.ptr("127.0.0.6", "forged.client.test").a("forged.client.test", "198.51.100.6");
    }

    @AfterEach void stop() {
        if (server != null) server.close();
        dns.close();
    }

    void start(String settings) throws Exception {
        server = TestServer.in(dir)
                .dns(dns)
                .toml("[[plugin]]\nname = \"fcrdns\"\n" + settings + "\n\n[[plugin]]\nname = \"rcpt\"\n\n[[plugin]]\nname = \"relay\"\n")
                .start();
    }

    Processes.Result swaks(String ip, String to, String subject) throws Exception {
        return Swaks.run(server.port(), "--local-interface", ip, "--from", "sender@remote.test", "--to", to,
                "--header", "Subject: " + subject, "--body", "fcrdns test");
    }

    @Test void rejectModeRefusesNoPtrAtRcptButPostmasterStillWorks() throws Exception {
        start("action = \"reject\"");
        var refused = swaks("127.0.0.5", "alice@example.test", "no ptr");
        assertNotEquals(0, refused.exitCode(), () -> refused.describe("swaks should fail"));
        assertTrue(refused.output().contains("550 5.7.25 Client host rejected: cannot find your reverse hostname, [127.0.0.5]"),
                () -> refused.describe("expected 550 5.7.25"));
        swaks("127.0.0.5", "postmaster@example.test", "to postmaster").assertSuccess();
        swaks("127.0.0.4", "alice@example.test", "confirmed").assertSuccess();
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("Subject: confirmed"), msg);
        server.awaitMessages("postmaster", 1, WAIT);
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
    }

    @Test void flagModeDeliversAMismatchWithTheFlagHeader() throws Exception {
        start("action = \"flag\"\nscore = 2.5");
        swaks("127.0.0.6", "alice@example.test", "forged").assertSuccess();
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("X-Portcullis-Flag: fcrdns (connect): PTR forged.client.test does not resolve back to 127.0.0.6"), msg);
        assertTrue(msg.contains("X-Portcullis-Score: 2.5"), msg);
    }

    @Test void confirmedClientIsNotFlagged() throws Exception {
        start("");
        swaks("127.0.0.4", "alice@example.test", "confirmed").assertSuccess();
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertFalse(msg.contains("X-Portcullis-Flag"), msg);
    }

    @Test void dnsTimeoutNeverRefuses() throws Exception {
        dns.timeout("7.0.0.127.in-addr.arpa");
        start("action = \"reject\"\ntimeout = \"1s\"");
        swaks("127.0.0.7", "alice@example.test", "slow dns").assertSuccess();
    }
}
