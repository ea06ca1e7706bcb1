package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SMTP smuggling (SEC Consult, December 2023): an outbound server that sees one message, an inbound server
 * that sees the end of data earlier and then a second, forged transaction. Only CRLF.CRLF may end DATA;
 * every other "ending" is refused with the connection closed, so nothing after it is ever parsed as commands.
 */
@Timeout(10)
class SmtpSmugglingTest {
    static final String HEAD = "EHLO outbound.test\r\n";
    static final String TX = "MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n";
    static final String SMUGGLED = "MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            + "From: <ceo@example.test>\r\nSubject: smuggled\r\n\r\nwire the money";

    @TempDir Path dir;

    /** The whole attack in one go: the outbound server pipelines it all, as it thinks it is one message. */
    private SmtpKit.Run attack(SmtpKit kit, String fakeEnding) {
        return kit.send(HEAD, TX, "Subject: innocent\r\n\r\nhello" + fakeEnding + SMUGGLED + "\r\n.\r\nQUIT\r\n");
    }

    @ParameterizedTest(name = "fake ending {0}")
    @ValueSource(strings = {"\\n.\\n", "\\n.\\r\\n", "\\r.\\r", "\\r.\\r\\n", "\\r\\n.\\n", "\\r\\n.\\r", "\\n.\\r",
            "\\r\\n.\\n\\r\\n", "\\n\\n.\\n\\n", "\\r\\r\\n.\\r\\r\\n"})
    void fakeEndingIsRefusedAndTheConnectionClosed(String escaped) {
        String ending = escaped.replace("\\r", "\r").replace("\\n", "\n");
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = attack(kit, ending);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.5.2"), r.codes(), r.output());
        assertEquals(List.of(), r.queuedReplies(), "never a 250 queued");
        assertEquals(List.of(), kit.spooled(), "neither the message nor the smuggled one");
        assertEquals(List.of(), kit.queued());
        // the exact reply list above also says: nothing after the bad ending was answered as a command
    }

    @Test
    void dotLfAtTheStartOfALineIsRefused() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(HEAD, TX, "Subject: x\r\n\r\nhello\r\n.\n" + SMUGGLED + "\r\n.\r\nQUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.5.2"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @ParameterizedTest(name = "bare {0} inside a line")
    @ValueSource(strings = {"CR", "LF"})
    void bareCrOrLfInsideALineIsRefusedAndTheConnectionClosed(String which) {
        String bare = which.equals("CR") ? "\r" : "\n";
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(HEAD, TX, "Subject: x\r\n\r\nhello" + bare + "world\r\n.\r\n", "NOOP\r\nQUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.5.2"), r.codes());
        assertTrue(r.last().lastLine().startsWith("554 5.5.2 Error: bare CR or LF"), r.last().lastLine());
        assertEquals(List.of(), kit.spooled());
        assertTrue(r.transport.unread() > 0, "the session stops reading");
    }

    @Test
    void bareLfAsTheVeryFirstContentByteIsRefused() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(HEAD, TX, "\n.\r\n", "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.5.2"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void nulBeforeTheDotIsNotAnEndingAndTheMessageIsRefused() {
        // CRLF NUL "." CRLF: not an ending here, but a next hop that drops NULs would see one, and the
        // smuggled transaction after it would come alive there. No body type allows NUL: refuse the message.
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = attack(kit, "\r\n\0.\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.6.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled(), "nothing stored");
    }

    @Test
    void realEndingThenTwoLegitimatePipelinedTransactionsAreTwoMessages() {
        // the control: with a real CRLF.CRLF the second transaction is a real one (the client's own)
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(HEAD, TX, "hello\r\n.\r\n" + SMUGGLED + "\r\n.\r\nQUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(2, kit.spooled().size());
    }

    @Test
    void dotStuffedFakeEndingStaysContent() {
        // CRLF ".." CRLF is a line holding one dot, not an end
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(HEAD, TX, "hello\r\n..\r\n" + SMUGGLED + "\r\n.\r\nQUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertTrue(kit.contentText(r.queueId()).contains("\r\nhello\r\n.\r\nMAIL FROM:<ceo@example.test>\r\n"));
    }

    @Test
    void bdatContentCannotSmuggleEither() {
        // BDAT frames by length: "\r\n.\r\n" inside a chunk is content, and bare LF inside it is refused
        SmtpKit kit = SmtpKit.in(dir);
        String chunk = "hello\r\n.\r\n" + SMUGGLED + "\r\n";
        SmtpKit.Run r = kit.send(HEAD, "MAIL FROM:<sender@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
                + "BDAT " + chunk.length() + " LAST\r\n" + chunk + "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(1, kit.spooled().size());
        assertTrue(kit.contentText(r.queueId()).endsWith(chunk));
    }
}
