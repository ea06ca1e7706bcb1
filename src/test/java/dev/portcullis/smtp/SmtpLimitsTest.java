package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Every limit of RFC 5321 4.5.3 and of the [smtp] section, each with its exact reply. */
@Timeout(10)
class SmtpLimitsTest {
    static final String EHLO = "EHLO client.test\r\n";
    static final String MAIL = "MAIL FROM:<sender@remote.test>\r\n";
    static final String RCPT = "RCPT TO:<alice@example.test>\r\n";
    static final String QUIT = "QUIT\r\n";

    @TempDir Path dir;

    // ---- command lines ----------------------------------------------------------------------------

    @Test
    void commandLineOverTheLimitIs500AndTheSessionGoesOn() {
        String noop600 = "NOOP " + "x".repeat(595) + "\r\n";
        assertEquals(602, noop600.length());
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, noop600, "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "500 5.5.2", "250 2.0.0", "221 2.0.0"), r.codes());
    }

    @Test
    void commandLineLimitIs512OctetsWithCrlf() {
        String noop512 = "NOOP " + "x".repeat(505) + "\r\n"; // 510 + CRLF
        String noop513 = "NOOP " + "x".repeat(506) + "\r\n";
        SmtpKit.Run r = SmtpKit.in(dir).send(noop512, noop513, QUIT);
        assertEquals(List.of("220", "250 2.0.0", "500 5.5.2", "221 2.0.0"), r.codes());
    }

    @Test
    void hugeCommandLineIsConsumedToItsEnd() {
        // longer than what the engine reads into memory: dropped, but the next command is still found
        String huge = "NOOP " + "x".repeat(20_000) + "\r\n";
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO + huge + "NOOP\r\n" + QUIT);
        assertEquals(List.of("220", "250", "500 5.5.2", "250 2.0.0", "221 2.0.0"), r.codes());
    }

    /** A MAIL line of {@code length} octets without CRLF, with the longest path and every parameter we offer. */
    static String mailLine(int length) {
        String path = "<" + "v".repeat(242) + "@remote.test>";           // 256 octets with the brackets
        String params = "SIZE=100 BODY=8BITMIME SMTPUTF8";
        String head = "MAIL FROM:" + path;
        int pad = length - head.length() - params.length();
        assertTrue(pad >= 1);
        // the parser tolerates runs of spaces between parameters; they make up the length
        return head + " ".repeat(pad) + params;
    }

    @Test
    void mailLineMayUseTheExtensionAllowance() {
        assertEquals(560, mailLine(560).length());
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, mailLine(560) + "\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "221 2.0.0"), r.codes(), "510 + 50 for SIZE, BODY and SMTPUTF8");
    }

    @Test
    void mailLineOverTheExtensionAllowanceIs500() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, mailLine(561) + "\r\n", MAIL, QUIT);
        assertEquals(List.of("220", "250", "500 5.5.2", "250 2.1.0", "221 2.0.0"), r.codes());
    }

    @Test
    void rcptLineHasNoExtensionAllowance() {
        String rcpt = "RCPT TO:<alice@example.test>" + " ".repeat(511 - 28);
        assertEquals(511, rcpt.length());
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, MAIL, rcpt + "\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "500 5.5.2", "221 2.0.0"), r.codes());
    }

    // ---- paths ------------------------------------------------------------------------------------

    @Test
    void pathLimitCountsTheAngleBrackets() {
        // "<" + 255 octets + ">" is 257 octets of path (RFC 5321 4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">")
        String path257 = "MAIL FROM:<" + "v".repeat(243) + "@remote.test>\r\n";
        String path256 = "MAIL FROM:<" + "v".repeat(242) + "@remote.test>\r\n";
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, path257, path256, QUIT);
        assertEquals(List.of("220", "250", "553 5.1.7", "250 2.1.0", "221 2.0.0"), r.codes());
    }

    @Test
    void recipientPathOver256OctetsIs553() {
        String domain = String.join(".", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(59)); // 251
        String ok = "RCPT TO:<xy@" + domain + ">\r\n";         // 256 with the brackets: syntax fine, relaying refused
        String tooLong = "RCPT TO:<xyz@" + domain + ">\r\n";   // 257
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, MAIL, tooLong, ok, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "553 5.1.3", "550 5.7.1", "221 2.0.0"), r.codes());
    }

    @Test
    void domainOver255OctetsIs553() {
        // a domain of 256 octets cannot fit a 256-octet path: the path limit answers first, with the same reply
        String domain = String.join(".", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(64 - 1), "e");
        assertEquals(257, domain.length());
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<a@" + domain + ">\r\n", MAIL, "RCPT TO:<a@" + domain + ">\r\n", QUIT);
        assertEquals(List.of("220", "250", "553 5.1.7", "250 2.1.0", "553 5.1.3", "221 2.0.0"), r.codes());
    }

    @Test
    void labelOver63OctetsIsASyntaxError() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, MAIL, "RCPT TO:<a@" + "b".repeat(64) + ".test>\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "501 5.1.3", "221 2.0.0"), r.codes());
    }

    @Test
    void recipientLocalPartOver64OctetsIs553ButSenderLocalPartMayBeLonger() {
        String local64 = "x".repeat(64), local65 = "x".repeat(65);
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO,
                "MAIL FROM:<" + "bounces+" + "v".repeat(92) + "@remote.test>\r\n",   // VERP: 100 octets
                "RCPT TO:<" + local65 + "@example.test>\r\n",
                "RCPT TO:<" + local64 + "@example.test>\r\n",                          // syntax fine: unknown user
                QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "553 5.1.3", "550 5.1.1", "221 2.0.0"), r.codes());
    }

    // ---- sizes ------------------------------------------------------------------------------------

    @Test
    void declaredSizeOverTheMaximumIs552() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO,
                "MAIL FROM:<sender@remote.test> SIZE=" + (SmtpKit.MAX_SIZE + 1) + "\r\n",
                "MAIL FROM:<sender@remote.test> SIZE=" + SmtpKit.MAX_SIZE + "\r\n", QUIT);
        assertEquals(List.of("220", "250", "552 5.3.4", "250 2.1.0", "221 2.0.0"), r.codes());
    }

    @Test
    void signedSizeIsASyntaxError() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<sender@remote.test> SIZE=-1\r\n",
                "MAIL FROM:<sender@remote.test> SIZE=+5\r\n", QUIT);
        assertEquals(List.of("220", "250", "501 5.5.4", "501 5.5.4", "221 2.0.0"), r.codes());
    }

    @Test
    void twentyDigitSizeIsTooBigNotBadSyntax() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<sender@remote.test> SIZE=99999999999999999999\r\n", QUIT);
        assertEquals(List.of("220", "250", "552 5.3.4", "221 2.0.0"), r.codes());
    }

    @Test
    void messageOverTheMaximumIs552AfterTheDataAndTheNextTransactionWorks() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_message_size", "1000");
        String exactly1000 = "a\r\n" + "x".repeat(995) + "\r\n";
        String over = "a\r\n" + "x".repeat(996) + "\r\n";
        assertEquals(1000, exactly1000.length());
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", over + ".\r\n",
                MAIL, RCPT, "DATA\r\n", exactly1000 + ".\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertEquals(List.of(id), kit.spooled());
        assertEquals(List.of(id), kit.queued());
        assertTrue(kit.contentText(id).endsWith("\r\n" + exactly1000));
    }

    @Test
    void farOversizedMessageIsReadToItsEnd() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_message_size", "1000");
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 2000; i++) big.append("line ").append(i).append(" of a big message\r\n");
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", big + ".\r\nNOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "552 5.3.4", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    // ---- recipients -------------------------------------------------------------------------------

    @Test
    void fourthRecipientIs452WhenTheMaximumIsThree() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_recipients", "3");
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "RCPT TO:<bob@example.test>\r\n", "RCPT TO:<nobody@example.test>\r\n",
                "RCPT TO:<sales@example.test>\r\n", "RCPT TO:<postmaster@example.test>\r\n", "DATA\r\n", "x\r\n.\r\n", QUIT);
        // a refused recipient does not count toward the maximum
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.1.1", "250 2.1.5", "452 4.5.3",
                "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(Address.of("alice", "example.test"), Address.of("bob", "example.test"),
                Address.of("sales", "example.test")), kit.envelope(r.queueId()).recipients());
    }

    // ---- content ----------------------------------------------------------------------------------

    @Test
    void lineOf1000OctetsWithCrlfIsFineAnd1001IsRefused() {
        SmtpKit kit = SmtpKit.in(dir);
        String ok = "x".repeat(998) + "\r\n";
        String tooLong = "x".repeat(999) + "\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", "Subject: a\r\n\r\n" + tooLong + ".\r\n",
                MAIL, RCPT, "DATA\r\n", "Subject: b\r\n\r\n" + ok + ".\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.6.0",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(1, kit.spooled().size());
        assertTrue(kit.contentText(r.queueId()).contains("Subject: b"));
    }

    @Test
    void longLineInTheHeaderIsRefusedToo() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", "Subject: " + "y".repeat(1200) + "\r\n\r\nbody\r\n.\r\n", QUIT);
        assertEquals("554 5.6.0", r.codes().get(5));
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void longLinesAreKeptWholeWhenAccepted() {
        SmtpKit kit = SmtpKit.in(dir).smtp("long_lines", "\"accept\"");
        StringBuilder longLine = new StringBuilder();
        for (int i = 0; i < 1000; i++) longLine.append((char) ('a' + i % 26)).append(i % 10);
        String content = "Subject: long\r\n\r\n" + longLine + "\r\nafter\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", content + ".\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertEquals(SmtpKit.received("client.test", "ESMTP", id, "<alice@example.test>") + content, kit.contentText(id),
                "the 2000-octet line byte for byte: not wrapped, not truncated");
    }

    static String receivedFields(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(i % 2 == 0 ? "Received: " : "received: ").append("from hop").append(i).append(" by x; date\r\n");
        return sb.toString();
    }

    @Test
    void moreReceivedFieldsThanTheMaximumIsAMailLoop() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_received_headers", "5");
        SmtpKit.Run r = kit.send(EHLO,
                MAIL, RCPT, "DATA\r\n", receivedFields(6) + "Subject: six\r\n\r\nbody\r\n.\r\n",
                MAIL, RCPT, "DATA\r\n", receivedFields(5) + "Subject: five\r\n\r\nbody\r\n.\r\n",
                MAIL, RCPT, "DATA\r\n", receivedFields(5) + "Subject: body\r\n\r\n" + receivedFields(6) + ".\r\n",
                QUIT);
        assertEquals(List.of("220", "250",
                "250 2.1.0", "250 2.1.5", "354", "554 5.4.6",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0",
                "221 2.0.0"), r.codes(), "only the header section counts; our own Received field does not");
        assertEquals(2, kit.spooled().size());
    }

    // ---- errors and timeouts ----------------------------------------------------------------------

    @Test
    void tooManyErrorsEndTheSessionWith421() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_errors", "3");
        SmtpKit.Run r = kit.send(EHLO, "XA\r\n", MAIL, "RCPT TO:<nobody@example.test>\r\n", "XB\r\n", "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "500 5.5.1", "250 2.1.0", "550 5.1.1", "500 5.5.1", "421 4.7.0"), r.codes());
        assertEquals("421 4.7.0 mx.test Error: too many errors, closing connection", r.last().lastLine());
        assertTrue(r.transport.unread() > 0, "nothing after the 421 is read");
    }

    @Test
    void tooManyErrorsInOnePipelinedBatchStopsAnsweringAtTheLimit() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_errors", "3");
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<sender@remote.test>\r\nRCPT TO:<n1@example.test>\r\nRCPT TO:<n2@example.test>\r\n"
                + "RCPT TO:<n3@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.1.1", "550 5.1.1", "550 5.1.1", "421 4.7.0"), r.codes());
    }

    @Test
    void silentClientGets421AfterTheCommandTimeout() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.run(MemoryTransport.of(EHLO).timeoutAtEnd());
        assertEquals(List.of("220", "250", "421 4.4.2"), r.codes());
        assertEquals("421 4.4.2 mx.test Error: timeout exceeded, closing connection", r.last().lastLine());
        assertEquals(List.of(Duration.ofSeconds(11)), r.transport.readTimeouts());
    }

    @Test
    void silenceDuringDataIs421AndNothingIsQueued() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.run(MemoryTransport.of(EHLO, MAIL, RCPT, "DATA\r\n", "Subject: half\r\n\r\nhalf a mess").timeoutAtEnd());
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "421 4.4.2"), r.codes());
        assertEquals(List.of(Duration.ofSeconds(11), Duration.ofSeconds(7)), r.transport.readTimeouts(), "data_timeout while reading content");
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void silenceDuringABdatChunkIs421AndNothingIsQueued() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.run(MemoryTransport.of(EHLO, MAIL, RCPT, "BDAT 100 LAST\r\nonly ten b").timeoutAtEnd());
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "421 4.4.2"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }
}
