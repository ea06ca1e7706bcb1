package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The limits of [smtp] as a client on a socket sees them (the engine's unit tests cover every code in memory). */
@Timeout(30)
class LimitsTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    static void envelope(SmtpScript c, String rcpt) throws Exception {
        c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
        c.command("RCPT TO:<" + rcpt + ">", 250, "2.1.5");
        c.command("DATA", 354, null);
    }

    @Test
    void commandLineTooLong() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("NOOP " + "x".repeat(600), 500, "5.5.2");        // over 512 with CRLF
            c.command("MAIL FROM:<" + "a".repeat(20000) + "@remote.test>", 500, "5.5.2"); // far over: read to its end
            c.command("NOOP", 250, "2.0.0");                             // and the stream is still in step
            envelope(c, "alice@example.test");
            c.command("Subject: after long lines\r\n\r\nok\r\n.", 250, "2.0.0");
        }
        assertTrue(server.awaitMessages("alice", 1, WAIT).getFirst().endsWith("\nok\n"));
    }

    @Test
    void messageOverMaxSizeThenANormalOneOnTheSameConnection() throws Exception {
        server = TestServer.in(dir).section("smtp", "max_message_size = \"1MB\"").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            SmtpScript.Reply ehlo = c.command("EHLO c", 250, null);
            assertTrue(ehlo.lines().contains("SIZE 1048576"), ehlo.toString());
            c.command("MAIL FROM:<a@remote.test> SIZE=2000000", 552, "5.3.4"); // RFC 1870 early refusal

            envelope(c, "alice@example.test");
            StringBuilder big = new StringBuilder("Subject: big\r\n\r\n");
            String line = "y".repeat(98) + "\r\n";
            while (big.length() < 1_500_000) big.append(line);
            c.readTimeout(Duration.ofSeconds(20));
            c.command(big + ".", 552, "5.3.4");

            envelope(c, "alice@example.test");
            String id = c.command("Subject: small\r\n\r\nsmall\r\n.", 250, "2.0.0").queueId();
            assertNotNull(id);
            c.command("QUIT", 221, null);
            server.awaitQueueEmpty(WAIT);
            List<String> alice = server.messages("alice");
            assertEquals(1, alice.size());
            assertTrue(alice.getFirst().contains(" id " + id + "\n") && alice.getFirst().endsWith("\nsmall\n"));
        }
    }

    @Test
    void messageOfExactlyMaxSizeIsAccepted() throws Exception {
        server = TestServer.in(dir).section("smtp", "max_message_size = 1000").start();
        // the limit counts the content as received, CRLFs included, without the final dot line
        String header = "Subject: exact\r\n\r\n";
        String body = "z".repeat(1000 - header.length() - 2) + "\r\n";
        assertEquals(1000, (header + body).length());
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test> SIZE=1000", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command(header + body + ".", 250, "2.0.0");
            envelope(c, "alice@example.test");
            c.command(header + "z" + body + ".", 552, "5.3.4");
        }
    }

    @Test
    void tooManyRecipients() throws Exception {
        server = TestServer.in(dir).section("smtp", "max_recipients = 3").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("RCPT TO:<bob@example.test>", 250, "2.1.5");
            c.command("RCPT TO:<postmaster@example.test>", 250, "2.1.5");
            c.command("RCPT TO:<Alice@Example.Test>", 452, "4.5.3");
            c.command("DATA", 354, null);
            c.command("Subject: three\r\n\r\nthree\r\n.", 250, "2.0.0");
        }
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
        assertEquals(1, server.messages("bob").size());
        assertEquals(1, server.messages("postmaster").size());
    }

    @Test
    void mailLoopIsRefused() throws Exception {
        server = TestServer.start(dir); // max_received_headers = 100
        StringBuilder looped = new StringBuilder();
        for (int i = 0; i < 101; i++) looped.append("Received: from hop").append(i).append(".test by mx.test; x\r\n");
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            envelope(c, "alice@example.test");
            c.command(looped + "Subject: loop\r\n\r\nloop\r\n.", 554, "5.4.6");
            // 100 is still fine: the limit is on the count already in the message
            envelope(c, "alice@example.test");
            c.command(looped.substring(looped.indexOf("\r\n") + 2) + "Subject: ok\r\n\r\nok\r\n.", 250, "2.0.0");
        }
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
    }

    @Test
    void idleClientGets421ThenClose() throws Exception {
        server = TestServer.in(dir).section("smtp", "command_timeout = \"1s\"").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            long start = System.nanoTime();
            c.expect(421, "4.4.2");
            long waited = (System.nanoTime() - start) / 1_000_000;
            assertTrue(waited >= 800 && waited < 5000, "timed out after " + waited + " ms");
            c.expectEof(Duration.ofSeconds(3));
        }
    }

    @Test
    void stalledDataGets421ThenClose() throws Exception {
        server = TestServer.in(dir).section("smtp", "command_timeout = \"5s\"\ndata_timeout = \"1s\"").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            envelope(c, "alice@example.test");
            c.send("Subject: half\r\n\r\nhalf a mess");
            c.expect(421, "4.4.2");
            c.expectEof(Duration.ofSeconds(3));
        }
        Thread.sleep(300);
        assertEquals(List.of(), server.queuedMessages(), "half a message is never queued");
        assertEquals(0, server.messages("alice").size());
    }

    @Test
    void tooManyErrorsGets421ThenClose() throws Exception {
        server = TestServer.in(dir).section("smtp", "max_errors = 3").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("BOGUS", 500, "5.5.1");
            c.command("RCPT TO:<alice@example.test>", 503, "5.5.1");
            c.command("ALSO-BOGUS", 500, "5.5.1");
            c.expect(421, null);
            c.expectEof(Duration.ofSeconds(3));
        }
    }

    @Test
    void clientVanishingMidDataQueuesNothing() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            envelope(c, "alice@example.test");
            c.send("Subject: cut\r\n\r\ncut off here\r\n");
        }
        Thread.sleep(500);
        assertEquals(List.of(), server.queuedMessages());
        assertEquals(0, server.messages("alice").size());
        // and the server still serves others
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
        }
    }
}
