package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The dialogue: happy path, HELO vs EHLO, pipelining, commands out of order, bad syntax, STARTTLS. */
@Timeout(10)
class SmtpSessionTest {
    static final String EHLO = "EHLO client.test\r\n";
    static final String MAIL = "MAIL FROM:<sender@remote.test>\r\n";
    static final String RCPT = "RCPT TO:<alice@example.test>\r\n";

    @TempDir Path dir;

    @Test
    void happyPathStoresTheMessageByteExactWithAReceivedField() {
        SmtpKit kit = SmtpKit.in(dir);
        // dot-stuffed on the wire (RFC 5321 4.5.2): "..hidden" is the line ".hidden"
        String wire = "Subject: hello\r\nFrom: <sender@remote.test>\r\n\r\nline one\r\n..hidden\r\n...two dots\r\n\r\nlast\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", wire + ".\r\n", "QUIT\r\n");

        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals("220 mx.test ESMTP Portcullis", r.lines().getFirst());
        assertEquals(List.of(
                "250-mx.test Hello client.test [127.0.0.1]",
                "250-PIPELINING",
                "250-SIZE " + SmtpKit.MAX_SIZE,
                "250-8BITMIME",
                "250-ENHANCEDSTATUSCODES",
                "250-SMTPUTF8",
                "250 CHUNKING"), r.reply(1).lines(), "no STARTTLS when the transport cannot do it");
        assertEquals("354 End data with <CR><LF>.<CR><LF>", r.reply(4).lastLine());

        String id = r.queueId();
        assertEquals(List.of(id), kit.queued(), "the queue is told the id");
        assertEquals(List.of(id), kit.spooled());
        String stored = kit.contentText(id);
        assertEquals(SmtpKit.received("client.test", "ESMTP", id, "<alice@example.test>")
                + "Subject: hello\r\nFrom: <sender@remote.test>\r\n\r\nline one\r\n.hidden\r\n..two dots\r\n\r\nlast\r\n", stored);
        assertTrue(stored.startsWith("Received: from client.test ([127.0.0.1])\r\n\tby mx.test"));

        Envelope env = kit.envelope(id);
        assertEquals(Address.of("sender", "remote.test"), env.sender());
        assertEquals(List.of(Address.of("alice", "example.test")), env.recipients());
        assertEquals("client.test", env.helo());
        assertEquals("127.0.0.1", env.clientAddress());
        assertEquals(SmtpKit.NOW, env.received());
        assertEquals(Map.of(), env.mailParameters());
    }

    @Test
    void mailParametersAreKeptInTheEnvelope() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<sender@remote.test> SIZE=20 BODY=8BITMIME\r\n", RCPT,
                "RCPT TO:<bob@example.test>\r\n", "DATA\r\n", "hi\r\n.\r\n", "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertEquals(Map.of("SIZE", "20", "BODY", "8BITMIME"), kit.envelope(id).mailParameters());
        assertEquals(2, kit.envelope(id).recipients().size());
        // two recipients: no "for" clause
        assertEquals(SmtpKit.received("client.test", "ESMTP", id, null) + "hi\r\n", kit.contentText(id));
    }

    @Test
    void emptyMessageAndNullSender() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<>\r\n", RCPT, "DATA\r\n", ".\r\n", "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertTrue(kit.envelope(id).sender().isNull());
        assertEquals(SmtpKit.received("client.test", "ESMTP", id, "<alice@example.test>"), kit.contentText(id));
    }

    @Test
    void twoTransactionsInOneSession() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", "one\r\n.\r\n", MAIL, "RCPT TO:<bob@example.test>\r\n",
                "DATA\r\n", "two\r\n.\r\n", "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0",
                "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        List<String> ids = r.queuedReplies();
        assertEquals(2, ids.size());
        assertEquals(ids, kit.queued());
        assertEquals(ids.stream().sorted().toList(), kit.spooled());
        assertTrue(kit.contentText(ids.get(0)).endsWith("\r\none\r\n"));
        assertTrue(kit.contentText(ids.get(1)).endsWith("\r\ntwo\r\n"));
        assertEquals(List.of(Address.of("bob", "example.test")), kit.envelope(ids.get(1)).recipients());
    }

    @Test
    void heloGetsOneLineAndReceivedSaysSmtp() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send("HELO old.client.test\r\n", MAIL, RCPT, "DATA\r\n", "x\r\n.\r\n", "QUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(List.of("250 mx.test"), r.reply(1).lines());
        String id = r.queueId();
        assertEquals(SmtpKit.received("old.client.test", "SMTP", id, "<alice@example.test>") + "x\r\n", kit.contentText(id));
    }

    @Test
    void mailParametersAfterHeloAre555() {
        SmtpKit.Run r = SmtpKit.in(dir).send("HELO old.client.test\r\n", "MAIL FROM:<sender@remote.test> SIZE=10\r\n",
                "MAIL FROM:<sender@remote.test> BODY=8BITMIME\r\n", MAIL, "QUIT\r\n");
        assertEquals(List.of("220", "250", "555 5.5.4", "555 5.5.4", "250 2.1.0", "221 2.0.0"), r.codes());
    }

    @Test
    void ehloAfterHeloSwitchesToEsmtpAndEhloResetsTheTransaction() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send("HELO a.test\r\n", MAIL, RCPT, "EHLO b.test\r\n", "DATA\r\n", "RCPT TO:<bob@example.test>\r\n", "QUIT\r\n");
        // EHLO abandons the transaction (RFC 5321 4.1.4): DATA and RCPT have no MAIL any more
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250", "503 5.5.1", "503 5.5.1", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    // ---- pipelining (RFC 2920) --------------------------------------------------------------------

    static final String BATCH = "MAIL FROM:<sender@remote.test>\r\n"
            + "RCPT TO:<alice@example.test>\r\n"
            + "RCPT TO:<nobody@example.test>\r\n"
            + "RCPT TO:<someone@foreign.test>\r\n"
            + "DATA\r\n";
    static final List<String> BATCH_CODES = List.of("220", "250", "250 2.1.0", "250 2.1.5", "550 5.1.1", "550 5.7.1",
            "354", "250 2.0.0", "221 2.0.0");

    @Test
    void pipelinedBatchIsAnsweredInOrderInOneWrite() {
        SmtpKit kit = SmtpKit.in(dir);
        // what a pipelining client does: EHLO and wait; the batch up to DATA and wait; content, QUIT
        SmtpKit.Run r = kit.send(EHLO, BATCH, "Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        assertEquals(BATCH_CODES, r.codes());
        List<MemoryTransport.Write> writes = r.transport.writes();
        assertEquals(4, writes.size(), "one write per round trip: " + writes);
        // each write happens only once the client's segment is used up, before the next is read
        assertEquals(0, writes.get(0).segmentsRead());
        assertTrue(writes.get(0).text().startsWith("220 "));
        assertEquals(1, writes.get(1).segmentsRead());
        assertTrue(writes.get(1).text().startsWith("250-mx.test"));
        assertEquals(2, writes.get(2).segmentsRead());
        assertEquals("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                + "550 5.1.1 Error: recipient address rejected: user unknown\r\n"
                + "550 5.7.1 Error: relay access denied\r\n"
                + "354 End data with <CR><LF>.<CR><LF>\r\n", writes.get(2).text());
        assertEquals(3, writes.get(3).segmentsRead());
        assertTrue(writes.get(3).text().startsWith("250 2.0.0 Ok: queued as "));
        assertTrue(writes.get(3).text().endsWith("221 2.0.0 Bye\r\n"));
        String id = r.queueId();
        assertEquals(List.of(Address.of("alice", "example.test")), kit.envelope(id).recipients());
    }

    @Test
    void wholeScriptAtOnceIsAnsweredInThreeWrites() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO + BATCH + "body\r\n.\r\nQUIT\r\n");
        assertEquals(BATCH_CODES, r.codes());
        List<MemoryTransport.Write> writes = r.transport.writes();
        // the greeting before the first read; the 354 must reach the client before it sends content (the
        // engine cannot know it already has); everything else waits for a read that would block
        assertEquals(3, writes.size(), "writes: " + writes);
        assertEquals("220 mx.test ESMTP Portcullis\r\n", writes.get(0).text());
        assertTrue(writes.get(1).text().startsWith("250-mx.test"));
        assertTrue(writes.get(1).text().endsWith("354 End data with <CR><LF>.<CR><LF>\r\n"));
        assertTrue(writes.get(2).text().startsWith("250 2.0.0 Ok: queued as "));
        assertTrue(writes.get(2).text().endsWith("221 2.0.0 Bye\r\n"));
        assertTrue(r.transport.flushes() <= 5, "flushes: " + r.transport.flushes());
        assertEquals(1, kit.spooled().size());
    }

    @Test
    void pipelinedBdatTransactionIsOneWrite() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL + RCPT + "BDAT 4 LAST\r\nhi\r\nQUIT\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        List<MemoryTransport.Write> writes = r.transport.writes();
        assertEquals(3, writes.size(), "writes: " + writes);
        assertTrue(writes.get(2).text().startsWith("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as "));
        assertEquals(1, kit.spooled().size());
    }

    @Test
    void commandAndDataTimeoutsAreSetOnTheTransport() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", "x\r\n.\r\n", "QUIT\r\n");
        assertEquals("221 2.0.0", r.last().summary());
        assertEquals(List.of(Duration.ofSeconds(11), Duration.ofSeconds(7), Duration.ofSeconds(11)), r.transport.readTimeouts());
    }

    // ---- order and syntax -------------------------------------------------------------------------

    static Stream<Arguments> mistakes() {
        return Stream.of(
                Arguments.of("MAIL before EHLO", List.of(MAIL), List.of("503 5.5.1")),
                Arguments.of("RCPT before MAIL", List.of(EHLO, RCPT), List.of("250", "503 5.5.1")),
                Arguments.of("DATA without MAIL", List.of(EHLO, "DATA\r\n"), List.of("250", "503 5.5.1")),
                Arguments.of("DATA without RCPT", List.of(EHLO, MAIL, "DATA\r\n"), List.of("250", "250 2.1.0", "554 5.5.1")),
                Arguments.of("DATA with only refused RCPT", List.of(EHLO, MAIL, "RCPT TO:<nobody@example.test>\r\n", "DATA\r\n"),
                        List.of("250", "250 2.1.0", "550 5.1.1", "554 5.5.1")),
                Arguments.of("nested MAIL", List.of(EHLO, MAIL, MAIL), List.of("250", "250 2.1.0", "503 5.5.1")),
                Arguments.of("unknown command", List.of(EHLO, "XYZZY plugh\r\n"), List.of("250", "500 5.5.1")),
                Arguments.of("EXPN is not offered: no list harvesting", List.of(EHLO, "EXPN staff\r\n"), List.of("250", "502 5.5.1")),
                Arguments.of("MAIL without brackets", List.of(EHLO, "MAIL FROM:foo@bar.test\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("MAIL without FROM:", List.of(EHLO, "MAIL <foo@bar.test>\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("MAIL with no argument", List.of(EHLO, "MAIL\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("MAIL with two spaces", List.of(EHLO, "MAIL FROM:  <foo@bar.test>\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("MAIL missing '>'", List.of(EHLO, "MAIL FROM:<foo@bar.test\r\n"), List.of("250", "501 5.1.7")),
                Arguments.of("MAIL bad domain", List.of(EHLO, "MAIL FROM:<foo@bar..test>\r\n"), List.of("250", "501 5.1.7")),
                Arguments.of("RCPT with space in local part", List.of(EHLO, MAIL, "RCPT TO:<a b@c.test>\r\n"),
                        List.of("250", "250 2.1.0", "501 5.1.3")),
                Arguments.of("RCPT empty path", List.of(EHLO, MAIL, "RCPT TO:<>\r\n"), List.of("250", "250 2.1.0", "501 5.1.3")),
                Arguments.of("RCPT without TO:", List.of(EHLO, MAIL, "RCPT <alice@example.test>\r\n"),
                        List.of("250", "250 2.1.0", "501 5.5.4")),
                Arguments.of("SIZE not a number", List.of(EHLO, "MAIL FROM:<a@b.test> SIZE=x\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("SIZE without value", List.of(EHLO, "MAIL FROM:<a@b.test> SIZE=\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("duplicate parameter", List.of(EHLO, "MAIL FROM:<a@b.test> SIZE=1 size=2\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("junk right after '>'", List.of(EHLO, "MAIL FROM:<a@b.test>SIZE=1\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("BODY=BINARYMIME not offered", List.of(EHLO, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("SMTPUTF8 with a value", List.of(EHLO, "MAIL FROM:<a@b.test> SMTPUTF8=yes\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("unsupported MAIL parameter", List.of(EHLO, "MAIL FROM:<a@b.test> AUTH=<>\r\n"), List.of("250", "555 5.5.4")),
                Arguments.of("unsupported RCPT parameter", List.of(EHLO, MAIL, "RCPT TO:<alice@example.test> NOTIFY=NEVER\r\n"),
                        List.of("250", "250 2.1.0", "555 5.5.4")),
                Arguments.of("VRFY", List.of(EHLO, "VRFY alice\r\n"), List.of("250", "252 2.5.0")),
                Arguments.of("VRFY without argument", List.of(EHLO, "VRFY\r\n"), List.of("250", "501 5.5.4")),
                Arguments.of("HELP", List.of("HELP\r\n"), List.of("214 2.0.0")),
                Arguments.of("NOOP", List.of("NOOP\r\n", "NOOP with an argument\r\n"), List.of("250 2.0.0", "250 2.0.0")),
                Arguments.of("RSET then RCPT", List.of(EHLO, MAIL, "RSET\r\n", RCPT), List.of("250", "250 2.1.0", "250 2.0.0", "503 5.5.1")),
                Arguments.of("RSET with argument", List.of("RSET now\r\n"), List.of("501 5.5.4")),
                Arguments.of("DATA with argument", List.of(EHLO, MAIL, RCPT, "DATA now\r\n"),
                        List.of("250", "250 2.1.0", "250 2.1.5", "501 5.5.4")),
                Arguments.of("EHLO without name", List.of("EHLO\r\n", "HELO \r\n"), List.of("501 5.5.4", "501 5.5.4")),
                Arguments.of("STARTTLS when not offered", List.of(EHLO, "STARTTLS\r\n"), List.of("250", "454 4.7.0")),
                Arguments.of("STARTTLS with argument", List.of("STARTTLS now\r\n"), List.of("501 5.5.4")),
                Arguments.of("NUL in a command", List.of("NOOP a\0b\r\n"), List.of("500 5.5.2")),
                Arguments.of("bare CR in a command", List.of("NOOP a\rb\r\n"), List.of("500 5.5.2")),
                Arguments.of("lower-case verbs", List.of("ehlo client.test\r\n", "mail from:<a@b.test>\r\n", "rcpt to:<alice@example.test>\r\n"),
                        List.of("250", "250 2.1.0", "250 2.1.5")),
                Arguments.of("commands may end in a bare LF", List.of("EHLO client.test\n", "MAIL FROM:<a@b.test>\n"), List.of("250", "250 2.1.0")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mistakes")
    void repliesToCommandsOutOfOrderAndBadSyntax(String what, List<String> script, List<String> expected) {
        SmtpKit kit = SmtpKit.in(dir);
        String[] segments = Stream.concat(script.stream(), Stream.of("QUIT\r\n")).toArray(String[]::new);
        SmtpKit.Run r = kit.send(segments);
        List<String> want = Stream.concat(Stream.concat(Stream.of("220"), expected.stream()), Stream.of("221 2.0.0")).toList();
        assertEquals(want, r.codes(), what + ":\n" + r);
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void quitEndsTheSessionAndNothingAfterItIsRead() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO + "QUIT\r\nNOOP\r\n");
        assertEquals(List.of("220", "250", "221 2.0.0"), r.codes());
        assertEquals("221 2.0.0 Bye", r.last().lastLine());
    }

    @Test
    void clientClosingMidDataQueuesNothing() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "DATA\r\n", "half a message\r\n");
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354"), r.codes());
        assertEquals(List.of(), kit.spooled());
        assertEquals(List.of(), kit.queued());
    }

    @Test
    void clientClosingMidCommandLineGetsNoReply() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<a@b.test>");
        assertEquals(List.of("220", "250"), r.codes());
    }

    // ---- STARTTLS (RFC 3207) ----------------------------------------------------------------------

    @Test
    void starttlsIsOfferedAndDiscardsWhatWasSentAheadOfTheHandshake() {
        SmtpKit kit = SmtpKit.in(dir);
        // the injection attack: commands in the same packet as STARTTLS must not be answered after TLS
        MemoryTransport t = MemoryTransport.of(EHLO, "STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<bob@example.test>\r\n")
                .startTlsThen(MAIL, "EHLO client.test\r\n", MAIL, RCPT, "DATA\r\n", "secret\r\n.\r\n", "QUIT\r\n");
        SmtpKit.Run r = kit.run(t);
        String plain = t.written();
        assertTrue(plain.contains("250 STARTTLS\r\n"), plain);
        assertTrue(plain.endsWith("220 2.0.0 Ready to start TLS\r\n"), plain);
        assertFalse(plain.contains("2.1.0"), "nothing after STARTTLS answered in plain text:\n" + plain);
        String tls = t.tlsWritten();
        assertFalse(tls.contains("STARTTLS"), "no STARTTLS offered inside TLS:\n" + tls);
        // the first MAIL after the handshake needs a new EHLO (RFC 3207 4.2)
        assertTrue(tls.startsWith("503 5.5.1 "), tls);
        assertEquals(List.of("220", "250", "220 2.0.0", "503 5.5.1", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"),
                r.codes());
        String id = r.queueId();
        assertEquals(List.of(Address.of("alice", "example.test")), kit.envelope(id).recipients());
        assertEquals(SmtpKit.received("client.test", "ESMTPS", id, "<alice@example.test>") + "secret\r\n", kit.contentText(id));
    }

    @Test
    void implicitTlsOffersNoStarttlsAndReceivedSaysEsmtps() {
        SmtpKit kit = SmtpKit.in(dir);
        MemoryTransport t = MemoryTransport.of(EHLO, "STARTTLS\r\n", MAIL, RCPT, "DATA\r\n", "x\r\n.\r\n", "QUIT\r\n").implicitTls();
        SmtpKit.Run r = kit.run(t);
        assertEquals(List.of("220", "250", "503 5.5.1", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals("250 CHUNKING", r.reply(1).lastLine());
        String id = r.queueId();
        assertTrue(kit.contentText(id).startsWith(SmtpKit.received("client.test", "ESMTPS", id, "<alice@example.test>")));
    }

    @Test
    void starttlsTwiceIs503() {
        MemoryTransport t = MemoryTransport.of(EHLO, "STARTTLS\r\n").startTlsThen(EHLO, "STARTTLS\r\n", "QUIT\r\n");
        SmtpKit.Run r = SmtpKit.in(dir).run(t);
        assertEquals(List.of("220", "250", "220 2.0.0", "250", "503 5.5.1", "221 2.0.0"), r.codes());
    }
}
