package dev.portcullis.plugins.earlytalker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Early talkers against a real server: a client that speaks before the greeting (or before the 354) is
 * refused and dropped, a patient one is served. Short delays; nothing is asserted about how long anything took.
 */
@Timeout(30)
class EarlytalkerServerTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    TestServer start(String settings) throws Exception {
        return start(settings, null);
    }

    TestServer start(String settings, String relayNetworks) throws Exception {
        var b = TestServer.in(dir);
        if (relayNetworks != null) b.section("relay", "networks = [\"" + relayNetworks + "\"]");
        return b.toml("[[plugin]]\nname = \"earlytalker\"\ndelay = \"300ms\"\n" + settings + "\n"
                + "[[plugin]]\nname = \"rcpt\"\n[[plugin]]\nname = \"relay\"\n").start();
    }

    @Test
    void talkerIsRefusedAndDropped() throws Exception {
        server = start("");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.2", server.port())) {
            c.send("EHLO x\r\n"); // at once, before any greeting
            c.expect(554, "5.5.0");
            assertTrue(c.closedWithin(WAIT), "the talker is disconnected");
        }
    }

    @Test
    void patientClientIsGreetedAndServed() throws Exception {
        server = start("");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.2", server.port())) {
            c.expect(220, null);
            c.command("EHLO patient.example", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: waited\r\n\r\nhello\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(!msg.contains("X-Portcullis-Flag"), msg);
    }

    @Test
    void offLetsTheTalkerThrough() throws Exception {
        server = start("action = \"off\"");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.2", server.port())) {
            c.send("EHLO x\r\n");
            c.expect(220, null);
            c.expect(250, null);
        }
    }

    @Test
    void replyCode421() throws Exception {
        server = start("reply_code = 421");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.2", server.port())) {
            c.send("EHLO x\r\n");
            c.expect(421, "4.7.0");
            assertTrue(c.closedWithin(WAIT));
        }
    }

    @Test
    void flaggedTalkerIsServedAndItsMessageMarked() throws Exception {
        server = start("action = \"flag\"");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.2", server.port())) {
            c.send("EHLO hasty.example\r\n");
            c.expect(220, null);
            c.expect(250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: hasty\r\n\r\nhello\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("X-Portcullis-Flag: earlytalker (connect): talked before the greeting"), msg);
        assertTrue(msg.contains("X-Portcullis-Score: 5.0"), msg);
    }

    @Test
    void relayNetworkSkipsTheWait() throws Exception {
        server = start("", "127.0.0.4/32");
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.4", server.port())) {
            c.send("EHLO trusted.example\r\n");
            c.expect(220, null);
            c.expect(250, null);
        }
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.5", server.port())) {
            c.send("EHLO stranger.example\r\n");
            c.expect(554, "5.5.0");
        }
    }

    @Test
    void contentBeforeThe354IsEarlyTalkToo() throws Exception {
        server = start("data_delay = \"300ms\"");
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.2", server.port())) {
            c.command("EHLO hasty.example", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.send("DATA\r\nSubject: too soon\r\n\r\nhello\r\n.\r\n");
            c.expect(554, "5.5.0");
            assertTrue(c.closedWithin(WAIT));
        }
        try (SmtpScript c = SmtpScript.openFrom("127.0.0.2", server.port())) {
            c.command("EHLO patient.example", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: in time\r\n\r\nhello\r\n.", 250, "2.0.0");
        }
        assertTrue(server.awaitMessages("alice", 1, WAIT).getFirst().contains("in time"));
    }
}
