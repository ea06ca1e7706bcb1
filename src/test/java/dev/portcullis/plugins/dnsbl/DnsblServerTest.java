package dev.portcullis.plugins.dnsbl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * dnsbl and dnswl through a real server: clients bind 127.0.0.2 (listed in bl.test, which is also the
 * RFC 5782 test entry the zone check needs) or 127.0.0.3 (not listed). No allow or relay networks are
 * configured, so loopback clients are strangers like any other.
 */
@Timeout(60)
class DnsblServerTest {
    static final Duration WAIT = Duration.ofSeconds(10);
    static final String LISTED = "127.0.0.2";
    static final String CLEAN = "127.0.0.3";

    @TempDir Path dir;
    TestDns dns;
    TestServer server;

    @BeforeEach void zones() throws Exception {
        dns = new TestDns();
        dns.a("2.0.0.127.bl.test", "127.0.0.2").txt("2.0.0.127.bl.test", "Listed: see https://bl.test/lookup\r\n250 2.1.5 injected");
        dns.a("2.0.0.127.wl.test", "127.0.10.0");
    }

    @AfterEach void stop() {
        if (server != null) server.close();
        dns.close();
    }

    void start(String plugins) throws Exception {
        server = TestServer.in(dir)
                .dns(dns)
                .toml(plugins + "\n[[plugin]]\nname = \"rcpt\"\n\n[[plugin]]\nname = \"relay\"\n")
                .start();
    }

    /** EHLO and MAIL, which a deferred refusal lets through. */
    SmtpScript open(String ip) throws Exception {
        SmtpScript c = SmtpScript.openFrom(ip, server.port(), "client.remote.test");
        assertEquals(250, c.command("MAIL FROM:<sender@remote.test>").code());
        return c;
    }

    static void data(SmtpScript c, String subject) throws Exception {
        SmtpScript.Reply r = c.data("Subject: " + subject + "\r\n\r\nbody");
        assertEquals(250, r.code(), r.toString());
    }

    @Test void rejectModeRefusesAtRcptButPostmasterStillWorks() throws Exception {
        start("[[plugin]]\nname = \"dnsbl\"\nzones = [\"bl.test\"]\n");
        try (SmtpScript c = open(LISTED)) {
            SmtpScript.Reply r = c.command("RCPT TO:<alice@example.test>");
            assertEquals(554, r.code(), r.toString());
            assertEquals(List.of("554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test"), r.rawLines());
            assertEquals(250, c.command("RCPT TO:<postmaster@example.test>").code(), "RFC 2505: postmaster still reachable");
            data(c, "to the postmaster");
            c.command("QUIT");
        }
        server.awaitMessages("postmaster", 1, WAIT);
        try (SmtpScript c = open(CLEAN)) {
            assertEquals(250, c.command("RCPT TO:<alice@example.test>").code());
            data(c, "clean");
            c.command("QUIT");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("Subject: clean"), msg);
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size(), "the listed client's message never reached alice");
    }

    @Test void quotedTxtCannotInjectAReplyLine() throws Exception {
        start("[[plugin]]\nname = \"dnsbl\"\nzones = [\"bl.test=127.0.0.[2..11]*2\"]\nquote_txt = true\nthreshold = 2\n");
        try (SmtpScript c = open(LISTED)) {
            SmtpScript.Reply r = c.command("RCPT TO:<alice@example.test>");
            assertEquals(List.of("554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test; "
                    + "Listed: see https://bl.test/lookup 250 2.1.5 injected"), r.rawLines());
            // the next reply is the NOOP's: nothing was smuggled in between
            assertEquals(List.of("250 2.0.0 Ok"), c.command("NOOP").rawLines());
        }
    }

    @Test void flagModeDeliversWithTheFlagHeader() throws Exception {
        start("[[plugin]]\nname = \"dnsbl\"\nzones = [\"bl.test*3\"]\naction = \"flag\"\n");
        try (SmtpScript c = open(LISTED)) {
            assertEquals(250, c.command("RCPT TO:<alice@example.test>").code());
            data(c, "flagged");
            c.command("QUIT");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("X-Portcullis-Flag: dnsbl (connect): listed: bl.test=127.0.0.2"), msg);
        assertTrue(msg.contains("X-Portcullis-Score: 3.0"), msg);
        assertTrue(msg.contains("X-Portcullis-Trace: dnsbl@connect=flag(+3.0)"), msg);
    }

    @Test void dnswlListedBeforeDnsblExemptsTheClient() throws Exception {
        // the same client (127.0.0.2) is in both lists
        start("[[plugin]]\nname = \"dnswl\"\nzones = [\"wl.test\"]\n\n"
                + "[[plugin]]\nname = \"dnsbl\"\nzones = [\"bl.test\"]\naction = \"flag\"\n");
        try (SmtpScript c = open(LISTED)) {
            assertEquals(250, c.command("RCPT TO:<alice@example.test>").code());
            data(c, "vouched");
            c.command("QUIT");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertFalse(msg.contains("X-Portcullis-Flag"), msg);
    }

    @Test void unreachableZoneNeverRefuses() throws Exception {
        dns.timeout("2.0.0.127.slow.test").timeout("1.0.0.127.slow.test");
        start("[[plugin]]\nname = \"dnsbl\"\nzones = [\"slow.test\"]\ntimeout = \"1s\"\n");
        try (SmtpScript c = open(LISTED)) {
            assertEquals(250, c.command("RCPT TO:<alice@example.test>").code());
        }
    }
}
