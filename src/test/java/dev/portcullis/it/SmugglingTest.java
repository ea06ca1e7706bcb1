package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SMTP smuggling (CVE-2023-51764/5/6 family) over real sockets: a fake end-of-data with a bare CR or LF,
 * followed by a complete second transaction, must never deliver the second message. Portcullis refuses the
 * whole message with 554 5.5.2 and closes.
 */
@Timeout(30)
class SmugglingTest {

    static final Duration SETTLE = Duration.ofMillis(700);
    static final String SMUGGLED = "MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            + "From: evil@remote.test\r\nSubject: Smuggled\r\n\r\nSmuggled\r\n.\r\n";

    @TempDir Path dir;
    TestServer server;

    @BeforeEach
    void start() throws Exception { server = TestServer.start(dir); }

    @AfterEach
    void stop() { server.close(); }

    static Stream<String> endings() {
        return Stream.of("\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n", "\r\n.\n", "\r\n.\r");
    }

    static String visible(String s) { return s.replace("\r", "\\r").replace("\n", "\\n"); }

    @ParameterizedTest(name = "fake ending {index}")
    @MethodSource("endings")
    void fakeEndOfDataDoesNotStartASecondTransaction(String ending) throws Exception {
        List<SmtpScript.Reply> replies = new ArrayList<>();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.send("EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                    + "From: a@remote.test\r\nSubject: innocent\r\n\r\nhello" + ending + SMUGGLED
                    + "\r\n.\r\nQUIT\r\n");
            for (SmtpScript.Reply r; (r = readOrNull(c)) != null; ) replies.add(r);
        }
        String all = replies.toString();
        assertEquals(250, replies.get(0).code(), all);          // EHLO
        assertTrue(replies.get(1).is(250, "2.1.0"), all);
        assertTrue(replies.get(2).is(250, "2.1.5"), all);
        assertEquals(354, replies.get(3).code(), all);
        assertTrue(replies.stream().anyMatch(r -> r.is(554, "5.5.2")), "554 5.5.2 for " + visible(ending) + ": " + all);
        assertFalse(replies.stream().anyMatch(r -> r.queueId() != null), "nothing queued: " + all);
        assertEquals(5, replies.size(), "the server stops after the 554: " + all);

        Thread.sleep(SETTLE.toMillis());
        assertEquals(List.of(), server.queuedMessages());
        assertEquals(0, server.messages("bob").size(), "the smuggled message reached bob");
        assertTrue(server.messages("alice").size() <= 1);
    }

    /** Reads the next reply; null at end of stream or on a reset (the server closes with unread input). */
    static SmtpScript.Reply readOrNull(SmtpScript c) {
        try {
            return c.readReplyOrNull();
        } catch (IOException e) {
            return null;
        }
    }

    @ParameterizedTest(name = "fake ending {index} through swaks")
    @MethodSource("endings")
    void swaksWithRawData(String ending) throws Exception {
        // --no-data-fixup sends the file byte for byte (swaks appends only the final CRLF after our ".")
        Path data = dir.resolve("data.eml");
        Files.write(data, ("From: a@remote.test\r\nSubject: innocent\r\n\r\nhello" + ending + SMUGGLED + "\r\n.")
                .getBytes(StandardCharsets.ISO_8859_1));
        var r = Swaks.run(server.port(), "--from", "a@remote.test", "--to", "alice@example.test",
                "--no-data-fixup", "--data", "@" + data);
        assertNotEquals(0, r.exitCode(), () -> r.describe("swaks should see the message refused"));
        assertTrue(r.output().contains("554 5.5.2"), () -> r.describe("expected 554 5.5.2"));
        Thread.sleep(SETTLE.toMillis());
        assertEquals(List.of(), server.queuedMessages());
        assertEquals(0, server.messages("bob").size());
        assertEquals(0, server.messages("alice").size());
    }

    @Test
    void properlyStuffedLookalikeIsDeliveredAsOneMessage() throws Exception {
        // the same text with correct CRLF line endings and a dot-stuffed line is legitimate content
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.send("EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
            c.expect(250, null);
            c.expect(250, "2.1.0");
            c.expect(250, "2.1.5");
            c.expect(354, null);
            c.send("Subject: innocent\r\n\r\nhello\r\n..\r\n" + SMUGGLED.replace("\r\n.\r\n", "\r\n..\r\n") + ".\r\nQUIT\r\n");
            c.expect(250, "2.0.0");
            c.expect(221, null);
        }
        server.awaitQueueEmpty(Duration.ofSeconds(10));
        assertEquals(0, server.messages("bob").size());
        List<String> alice = server.messages("alice");
        assertEquals(1, alice.size());
        assertTrue(alice.getFirst().endsWith("\nhello\n.\nMAIL FROM:<evil@remote.test>\nRCPT TO:<bob@example.test>\nDATA\n"
                + "From: evil@remote.test\nSubject: Smuggled\n\nSmuggled\n.\n"), alice.getFirst());
    }
}
