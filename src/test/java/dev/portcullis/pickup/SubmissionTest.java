package dev.portcullis.pickup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SubmissionTest {
    static final Clock CLOCK = Clock.fixed(Instant.parse("2024-05-01T12:00:00Z"), ZoneOffset.ofHours(2));

    static Submission.Request request(boolean t, boolean dotEnds, String... rcpts) {
        return new Submission.Request(t, dotEnds, null, null, List.of(rcpts), "cron", "mx.test", 10_000, CLOCK);
    }

    static Submission.Result prepare(Submission.Request r, String input) throws Exception {
        return Submission.prepare(r, new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
    }

    static String text(Submission.Result r) {
        return new String(r.message(), StandardCharsets.UTF_8);
    }

    @Test void aBodyWithoutAHeaderGetsOneAndAnEmptyLine() throws Exception {
        String m = text(prepare(request(false, true, "root"), "hello\nworld\n"));
        assertEquals("From: cron@mx.test\r\nDate: Wed, 1 May 2024 14:00:00 +0200\r\n", m.substring(0, m.indexOf("Message-ID")));
        assertTrue(m.endsWith(">\r\n\r\nhello\r\nworld\r\n"), m);
    }

    @Test void theHeaderEndsAtTheFirstLineThatIsNotAField() throws Exception {
        String m = text(prepare(request(false, true, "root"), "Subject: s\n  folded\nnot a header line\nbody\n"));
        assertTrue(m.startsWith("Subject: s\r\n  folded\r\nFrom: "), m);
        assertTrue(m.endsWith("\r\n\r\nnot a header line\r\nbody\r\n"), m);
    }

    @Test void anMboxFromLineIsDropped() throws Exception {
        String m = text(prepare(request(false, true, "root"), "From cron@host Wed May  1 12:00:00 2024\nSubject: s\n\nb\n"));
        assertTrue(m.startsWith("Subject: s\r\n"), m);
    }

    @Test void existingDateAndMessageIdAreKept() throws Exception {
        String m = text(prepare(request(false, true, "root"),
                "date: Mon, 1 Jan 2024 00:00:00 +0000\nMESSAGE-ID: <x@y>\nFrom: a@b\n\nb\n"));
        assertEquals("date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMESSAGE-ID: <x@y>\r\nFrom: a@b\r\n\r\nb\r\n", m);
    }

    @Test void dashTWithFoldedAndRepeatedHeaders() throws Exception {
        var r = prepare(request(true, true, "root"),
                "To: a@x.test,\n\tB <b@x.test>\nCC: c@x.test\nTo: a@x.test\nbcc: d@x.test\nSubject: s\n\nbody\n");
        assertEquals(List.of("a@x.test", "b@x.test", "c@x.test", "d@x.test", "root@mx.test"),
                r.recipients().stream().map(Address::mailbox).toList(), "in order, once each, arguments last");
        assertFalse(text(r).toLowerCase().contains("bcc"), text(r));
    }

    @Test void bccIsRemovedEvenWithoutDashT() throws Exception {
        var r = prepare(request(false, true, "a@x.test"), "Bcc: hidden@x.test\nSubject: s\n\nbody\n");
        assertEquals(List.of(Address.of("a", "x.test")), r.recipients());
        assertFalse(text(r).contains("hidden"), text(r));
    }

    @Test void aBadHeaderAddressIsADataError() {
        var e = assertThrows(Submission.Refused.class, () -> prepare(request(true, true), "To: John Smith\n\nb\n"));
        assertEquals(65, e.exitCode());
        assertTrue(e.getMessage().contains("To:"), e.getMessage());
    }

    @Test void withoutRecipientsStandardInputIsNotEvenRead() {
        AtomicInteger reads = new AtomicInteger();
        InputStream in = new InputStream() {
            @Override public int read() { reads.incrementAndGet(); return -1; }
        };
        var e = assertThrows(Submission.Refused.class, () -> Submission.prepare(request(false, true), in));
        assertEquals(64, e.exitCode());
        assertEquals(0, reads.get());
    }

    @Test void theSizeLimitCountsTheFinishedMessage() throws Exception {
        var small = new Submission.Request(false, true, null, null, List.of("root"), "cron", "mx.test", 200, CLOCK);
        var e = assertThrows(Submission.Refused.class, () -> prepare(small, "x".repeat(150) + "\n"));
        assertEquals(65, e.exitCode(), "150 bytes of body plus the added header is over 200");
        assertThrows(Submission.Refused.class, () -> prepare(small, "y\n".repeat(1000)), "refused while reading");
    }

    @Test void aNulByteIsRefused() {
        var e = assertThrows(Submission.Refused.class, () -> prepare(request(false, true, "root"), "a\0b\n"));
        assertEquals(65, e.exitCode());
    }

    @Test void aDotLineWithCrlfAlsoEndsAndNothingIsUnstuffed() throws Exception {
        String m = text(prepare(request(false, true, "root"), "\r\n..double\r\n.\r\nafter\r\n"));
        assertTrue(m.endsWith("\r\n\r\n..double\r\n"), m);
        String lastDot = text(prepare(request(false, true, "root"), "\nbody\n."));
        assertTrue(lastDot.endsWith("\r\n\r\nbody\r\n"), "a final '.' without a line end still ends: " + lastDot);
    }

    @Test void userNamesThatAreNotAtomsAreQuoted() {
        assertEquals("john.doe", Submission.localPartFor("john.doe"));
        assertEquals("\"john doe\"", Submission.localPartFor("john doe"));
    }

    @Test void phrases() {
        assertEquals("Cron Daemon", Submission.phrase("Cron Daemon"));
        assertEquals("\"J. R. \\\"Bob\\\" Dobbs\"", Submission.phrase("J. R. \"Bob\" Dobbs"));
        String long8bit = Submission.phrase("é".repeat(40));
        for (String word : long8bit.split(" ")) assertTrue(word.length() <= 75, word);
        assertEquals(2, long8bit.split(" ").length);
    }
}
