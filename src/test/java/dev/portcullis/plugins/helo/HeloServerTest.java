package dev.portcullis.plugins.helo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import dev.portcullis.testkit.TestTls;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The HELO checks through a real server, with clients on several loopback addresses. */
@Timeout(30)
class HeloServerTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static TestDns dns;

    @TempDir Path dir;
    TestServer server;

    @BeforeAll
    static void zones() throws Exception {
        dns = new TestDns().a("good.example", "192.0.2.80");
    }

    @AfterAll
    static void stopDns() { dns.close(); }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    /** A server whose chain is helo (with these settings), rcpt and relay. */
    TestServer start(String heloSettings) throws Exception {
        return TestServer.in(dir).dns(dns).toml(
                "[[plugin]]\nname = \"helo\"\n" + heloSettings + "\n"
                + "[[plugin]]\nname = \"rcpt\"\n[[plugin]]\nname = \"relay\"\n").start();
    }

    @Test
    void eachSubCheckGivesItsConfiguredReplyAtHelo() throws Exception {
        server = start("""
                defer_to_rcpt = false
                literal_mismatch = "reject"
                not_fqdn = "reject"
                no_resolve = "tempfail"
                """);
        int port = server.port();
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.1", port)) {
            c.command("EHLO 192.0.2.1", 550, "5.7.1");          // bare_ip
            c.command("EHLO mx.test", 550, "5.7.1");            // claims_us: our hostname
            c.command("HELO example.test", 550, "5.7.1");       // claims_us: our local domain
            c.command("EHLO bad!name.example", 550, "5.7.1");   // invalid
            c.command("EHLO [127.0.0.5]", 550, "5.7.1");        // literal_mismatch: we are 127.0.0.1
            c.command("EHLO mypc", 550, "5.7.1");               // not_fqdn
            c.command("EHLO nx.example", 451, "4.7.1");         // no_resolve, tempfail
            c.command("MAIL FROM:<a@remote.test>", 503, "5.5.1"); // no HELO accepted yet
            c.command("EHLO good.example", 250, null);          // and a good name is still welcome
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
        }
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.3", port)) {
            c.command("EHLO [127.0.0.1]", 550, "5.7.1");        // claims_us: our listener's address
            c.command("EHLO [127.0.0.3]", 250, null);           // its own address
        }
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.1", port)) {
            c.command("EHLO [127.0.0.1]", 250, null);           // our address, but the client is on this host
        }
    }

    @Test
    void deferredRefusalLetsPostmasterThrough() throws Exception {
        server = start(""); // defaults: bare_ip rejects, deferred to RCPT
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.2", server.port())) {
            c.command("EHLO 192.0.2.1", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 550, "5.7.1");
            c.command("RCPT TO:<postmaster@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: helo says I am an address\r\n\r\nplease fix\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        List<String> pm = server.awaitMessages("postmaster", 1, WAIT);
        assertTrue(pm.getFirst().contains("please fix"));
        assertTrue(server.messages("alice").isEmpty());
    }

    @Test
    void flaggedNameReachesTheMailboxWithHeaders() throws Exception {
        server = start(""); // not_fqdn flags by default
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.2", server.port())) {
            c.command("EHLO mypc", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: from mypc\r\n\r\nhello\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("X-Portcullis-Flag: helo (helo): not_fqdn: mypc"), msg);
        assertTrue(msg.contains("X-Portcullis-Score: 1.0"), msg);
    }

    @Test
    void secondEhloAfterStarttlsIsJudgedAgainButScoredOnce() throws Exception {
        server = start(""); // not_fqdn flags by default
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO mypc", 250, null);
            c.command("STARTTLS", 220, null);
            c.startTls(TestTls.trustAll());
            c.command("EHLO mypc", 250, null); // RFC 3207 4.2: the client says EHLO again
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: twice\r\n\r\nhello\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        String trace = msg.replaceAll("\n[ \t]+", " ").lines() // unfold (RFC 5322 2.2.3)
                .filter(l -> l.startsWith("X-Portcullis-Trace: ")).findFirst().orElseThrow();
        assertEquals(2, trace.split("helo@helo=flag", -1).length - 1, trace);
        assertTrue(msg.contains("X-Portcullis-Score: 1.0"), msg);

        server.close();
        server = TestServer.in(dir).dns(dns).toml(
                "[[plugin]]\nname = \"helo\"\nnot_fqdn = \"reject\"\ndefer_to_rcpt = false\n"
                + "[[plugin]]\nname = \"rcpt\"\n[[plugin]]\nname = \"relay\"\n").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO good.example", 250, null);
            c.command("STARTTLS", 220, null);
            c.startTls(TestTls.trustAll());
            c.command("EHLO mypc", 550, "5.7.1");
            c.command("EHLO good.example", 250, null);
        }
    }

    @Test
    void relayClientsAreNotChecked() throws Exception {
        server = TestServer.in(dir).section("relay", "networks = [\"127.0.0.6/32\"]").dns(dns).toml(
                "[[plugin]]\nname = \"helo\"\ndefer_to_rcpt = false\n[[plugin]]\nname = \"rcpt\"\n[[plugin]]\nname = \"relay\"\n")
                .start();
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.6", server.port())) {
            c.command("EHLO 192.0.2.1", 250, null);
        }
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.7", server.port())) {
            c.command("EHLO 192.0.2.1", 550, "5.7.1");
        }
    }

    @Test
    void badActionOrUnknownSettingStopsStartUp() {
        var bad = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> start("bare_ip = \"maybe\""));
        assertTrue(bad.getMessage().contains("bare_ip"), bad.getMessage());
        var unknown = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> start("bare_ipp = \"reject\""));
        assertTrue(unknown.getMessage().contains("bare_ipp"), unknown.getMessage());
    }
}
