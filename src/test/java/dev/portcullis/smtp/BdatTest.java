package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.HookResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** CHUNKING (RFC 3030): BDAT frames content by length, so the engine must consume every chunk it is sent. */
@Timeout(10)
class BdatTest {
    static final String EHLO = "EHLO client.test\r\n";
    static final String MAIL = "MAIL FROM:<sender@remote.test>\r\n";
    static final String RCPT = "RCPT TO:<alice@example.test>\r\n";
    static final String QUIT = "QUIT\r\n";

    @TempDir Path dir;

    static String bdat(String chunk, boolean last) {
        return "BDAT " + chunk.getBytes(StandardCharsets.UTF_8).length + (last ? " LAST" : "") + "\r\n" + chunk;
    }

    @Test
    void twoChunksAreQueuedByteExact() {
        SmtpKit kit = SmtpKit.in(dir);
        String c1 = "Subj: ab\r\n", c2 = "\r\n.x\r\n";
        assertEquals(10, c1.length());
        assertEquals(6, c2.length());
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "BDAT 10\r\n" + c1, "BDAT 6 LAST\r\n" + c2, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals("250 2.0.0 10 octets received", r.reply(4).lastLine());
        String id = r.queueId();
        assertEquals(List.of(id), kit.queued());
        // no dot-unstuffing in BDAT: ".x" stays ".x"
        assertEquals(SmtpKit.received("client.test", "ESMTP", id, "<alice@example.test>") + c1 + c2, kit.contentText(id));
    }

    @Test
    void chunkBytesThatLookLikeCommandsAreContent() {
        SmtpKit kit = SmtpKit.in(dir);
        String chunk = "QUIT\r\nRSET\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat(chunk, true) + QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        assertTrue(kit.contentText(r.queueId()).endsWith("\r\n" + chunk));
    }

    @Test
    void emptyLastChunkEndsTheMessage() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("Subject: x\r\n\r\nbody\r\n", false), "BDAT 0 LAST\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertTrue(kit.contentText(id).endsWith(" +0000\r\nSubject: x\r\n\r\nbody\r\n"));
    }

    @Test
    void sizeInUtf8OctetsNotCharacters() {
        SmtpKit kit = SmtpKit.in(dir);
        String chunk = "Subject: caf\u00e9\r\n\r\n\u00fcber\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat(chunk, true), QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        byte[] stored = kit.content(r.queueId());
        byte[] want = chunk.getBytes(StandardCharsets.UTF_8);
        assertEquals(new String(want, StandardCharsets.ISO_8859_1),
                new String(stored, stored.length - want.length, want.length, StandardCharsets.ISO_8859_1));
    }

    @Test
    void bdatWithoutMailIs503AndTheChunkIsConsumed() {
        SmtpKit kit = SmtpKit.in(dir);
        // the chunk holds command-looking bytes: they must not be executed
        String chunk = "NOOP\r\nMAIL FROM:<x@y.test>\r\n";
        SmtpKit.Run r = kit.send(EHLO, bdat(chunk, false) + "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "503 5.5.1", "250 2.0.0", "221 2.0.0"), r.codes());
    }

    @Test
    void bdatWithoutRecipientsIs554AndTheChunkIsConsumed() {
        SmtpKit kit = SmtpKit.in(dir);
        String chunk = "RSET\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<nobody@example.test>\r\n", bdat(chunk, true) + RCPT + bdat("hi\r\n", true), QUIT);
        // the transaction survives the refused BDAT (the chunk's RSET was content): RCPT and a new BDAT work
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.1.1", "554 5.5.1", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(1, kit.spooled().size());
    }

    @Test
    void bareLfInBdatContentIs554AndNotQueued() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("Subject: x\r\n\r\nbare\nlf\r\n", true), "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "554 5.6.0", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void bareCrInBdatContentIs554AndNotQueued() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("Subject: x\r\n\r\nbare\rcr\r\n", true), QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "554 5.6.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void crlfSplitAcrossTwoChunksIsNotBare() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("Subject: x\r", false), bdat("\n\r\nbody\r\n", true), QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0", "221 2.0.0"), r.codes());
        assertTrue(kit.contentText(r.queueId()).endsWith("Subject: x\r\n\r\nbody\r\n"));
    }

    @Test
    void dataAfterBdatIs503() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("part\r\n", false), "DATA\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void bdatAfterLastIs503() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("one\r\n", true), bdat("two\r\n", true) + "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(1, kit.spooled().size());
    }

    @Test
    void badBdatSyntaxIs501AndTheSessionCloses() {
        for (String bad : List.of("BDAT x\r\n", "BDAT\r\n", "BDAT -1\r\n", "BDAT 5 NOTLAST\r\n", "BDAT 5 LAST more\r\n")) {
            SmtpKit kit = SmtpKit.in(dir.resolve(String.valueOf(bad.hashCode())));
            SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bad, "NOOP\r\n", QUIT);
            assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "501 5.5.4"), r.codes(), bad);
            assertTrue(r.transport.unread() > 0, "nothing read after " + bad);
        }
    }

    @Test
    void bdatOverTheSizeLimitIs552AndTheNextTransactionWorks() {
        SmtpKit kit = SmtpKit.in(dir).smtp("max_message_size", "100");
        String big = "x".repeat(98) + "\r\n";
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat(big, false), bdat(big, true),
                MAIL, RCPT, bdat("small\r\n", true), QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "552 5.3.4",
                "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(1, kit.spooled().size());
        assertTrue(kit.contentText(r.queueId()).endsWith("\r\nsmall\r\n"));
    }

    @Test
    void longLineInBdatIsRefusedLikeInData() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("x".repeat(999) + "\r\n", true), QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "554 5.6.0", "221 2.0.0"), r.codes());
    }

    @Test
    void refusedFirstBdatConsumesItsChunk() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.data("nodata", ctx -> HookResult.deny(554, "5.7.1", "no content from you")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("MAIL FROM:<x@y.test>\r\n", false) + bdat("NOOP\r\n", true) + "RSET\r\n", QUIT);
        // RFC 3030 2: after a failed BDAT, chunks already in the pipeline are read and discarded
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "554 5.7.1", "503 5.5.1", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void dataAfterARefusedBdatIs503() {
        AtomicInteger calls = new AtomicInteger();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.data("once",
                ctx -> calls.incrementAndGet() == 1 ? HookResult.denySoft(451, "4.7.1", "try later") : HookResult.declined()));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, bdat("one\r\n", false), "DATA\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "451 4.7.1", "503 5.5.1", "221 2.0.0"), r.codes());
    }
}
