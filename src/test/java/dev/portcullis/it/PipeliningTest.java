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
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** RFC 2920 over a real socket: a whole command group in one write, answered in order. */
@Timeout(30)
class PipeliningTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestServer server;

    @BeforeEach
    void start() throws Exception { server = TestServer.start(dir); }

    @AfterEach
    void stop() { server.close(); }

    @Test
    void commandGroupInOneWriteIsAnsweredInOrder() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.send("EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
                    + "RCPT TO:<nobody@example.test>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\n");
            SmtpScript.Reply ehlo = c.expect(250, null);
            assertTrue(ehlo.lines().size() > 1, "EHLO answers with a multi-line reply: " + ehlo);
            assertTrue(ehlo.lines().contains("PIPELINING"), ehlo.toString());
            c.expect(250, "2.1.0");
            c.expect(250, "2.1.5");
            c.expect(550, "5.1.1");
            c.expect(550, "5.7.1");
            c.expect(354, null);
            c.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n");
            String id = c.expect(250, "2.0.0").queueId();
            assertNotNull(id);
            c.expect(221, "2.0.0");
            c.expectEof(Duration.ofSeconds(5));

            server.awaitQueueEmpty(WAIT);
            List<String> alice = server.messages("alice");
            assertEquals(1, alice.size());
            assertTrue(alice.getFirst().contains(" id " + id + "\n"), alice.getFirst());
            assertTrue(alice.getFirst().endsWith("\nSubject: pipelined\n\nbody\n"), alice.getFirst());
            assertTrue(alice.getFirst().contains("\tfor <alice@example.test>;\n"), "one accepted recipient: " + alice.getFirst());
        }
    }

    @Test
    void twoWholeTransactionsInOneWrite() throws Exception {
        // a client may pipeline through the end of data and into the next transaction (RFC 2920 3.1)
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
            c.expect(250, "2.1.0");
            c.expect(250, "2.1.5");
            c.expect(354, null);
            c.send("Subject: one\r\n\r\n1\r\n.\r\nRSET\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
            String first = c.expect(250, "2.0.0").queueId();
            c.expect(250, "2.0.0"); // RSET
            c.expect(250, "2.1.0");
            c.expect(250, "2.1.5");
            c.expect(354, null);
            c.send("Subject: two\r\n\r\n2\r\n.\r\nQUIT\r\n");
            String second = c.expect(250, "2.0.0").queueId();
            c.expect(221, null);
            assertNotNull(first);
            assertNotNull(second);
            assertTrue(first.compareTo(second) < 0, "queue ids increase: " + first + " " + second);
        }
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
        assertEquals(1, server.messages("bob").size());
        assertTrue(server.messages("alice").getFirst().endsWith("Subject: one\n\n1\n"));
        assertTrue(server.messages("bob").getFirst().endsWith("Subject: two\n\n2\n"));
    }

    @Test
    void dataWithoutAcceptedRecipientIsRefusedInOrder() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.send("EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\nRSET\r\nNOOP\r\n");
            c.expect(250, null);
            c.expect(250, "2.1.0");
            c.expect(550, "5.1.1");
            c.expect(554, "5.5.1");
            c.expect(250, "2.0.0");
            c.expect(250, "2.0.0");
            assertEquals("", c.readAvailableFor(Duration.ofMillis(300)), "nothing more");
        }
        assertEquals(List.of(), server.queuedMessages());
    }
}
