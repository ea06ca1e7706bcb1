package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
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
    void aListenerAtItsConnectionCapSays421AndTakesNewClientsOnceOneLeaves() throws Exception {
        server = TestServer.in(dir).listener("127.0.0.1", 0, "mx", "max_connections = 2").start();
        try (SmtpScript a = SmtpScript.connect(server.port()); SmtpScript b = SmtpScript.connect(server.port())) {
            a.expect(220, null);
            b.expect(220, null);
            try (SmtpScript c = SmtpScript.connect(server.port())) {
                SmtpScript.Reply busy = c.expect(421, "4.3.2");
                assertTrue(busy.text().contains("Too many connections"), busy.toString());
                c.expectEof(Duration.ofSeconds(5));
            }
            a.send("QUIT\r\n").expect(221, "2.0.0");
            a.expectEof(Duration.ofSeconds(5));
            // the session's slot is free once its thread has ended: a new client is served again
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (true) {
                try (SmtpScript d = SmtpScript.connect(server.port())) {
                    SmtpScript.Reply greeting = d.readReply();
                    if (greeting.code() == 220) break;
                    assertEquals(421, greeting.code(), greeting.toString());
                }
                assertTrue(System.nanoTime() < deadline, "a freed slot must be usable again");
                Thread.sleep(50);
            }
            b.send("NOOP\r\n").expect(250, "2.0.0");
        }
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

    @Test
    void dataLineLongerThan1000IsRefused() throws Exception {
        server = TestServer.start(dir); // long_lines = "reject"
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            envelope(c, "alice@example.test");
            c.command("Subject: long\r\n\r\n" + "w".repeat(999) + "\r\n.", 554, "5.6.0"); // 1001 with CRLF
            envelope(c, "alice@example.test");
            c.command("Subject: long\r\n\r\n" + "w".repeat(998) + "\r\n.", 250, "2.0.0"); // exactly 1000
        }
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
    }

    /**
     * A client that sends commands but never reads the replies: once the socket buffers are full the server
     * blocks in write(). SO_TIMEOUT bounds only reads, so unless the server bounds writes too, such a
     * connection (and its thread) lives forever, whatever command_timeout says (Postfix's smtpd_timeout
     * covers writes for this reason).
     */
    @Test
    @Timeout(60)
    void clientThatNeverReadsIsDisconnectedAfterTheTimeout() throws Exception {
        server = TestServer.in(dir).section("smtp", "command_timeout = \"1s\"").start();
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
        AtomicLong written = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        byte[] chunk = "NOOP\r\n".repeat(1000).getBytes(StandardCharsets.US_ASCII);
        Thread writer = Thread.ofPlatform().daemon(true).start(() -> {
            try {
                var out = s.getOutputStream();
                out.write("EHLO c\r\n".getBytes(StandardCharsets.US_ASCII));
                for (int i = 0; i < 20_000; i++) { // up to 120 MB: far more than any socket buffer
                    out.write(chunk);
                    written.addAndGet(chunk.length);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            // Within a second or so both directions are stuck: the server cannot write its replies, so it stops
            // reading, so our writes stop too. A server that bounds its writes gives up after its timeout and
            // closes, which fails our blocked write with a reset.
            writer.join(15_000);
            assertFalse(writer.isAlive(), "server still holds the connection 15s into a 1s timeout ("
                    + written.get() + " bytes of commands accepted, none of the replies read)");
            assertTrue(failure.get() instanceof IOException, "the server closed the connection: " + failure.get());
        } finally {
            s.close();
            writer.join(5000);
        }
    }
}
