package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The one-pass content scan: line lengths with CRLF, Received fields in the header only, bare CR/LF. */
@Timeout(10)
class ContentCheckTest {

    static ContentCheck check(String s) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        // the buffer may be larger than the content: only len counts
        byte[] padded = new byte[b.length + 16];
        System.arraycopy(b, 0, padded, 0, b.length);
        java.util.Arrays.fill(padded, b.length, padded.length, (byte) '\n');
        return ContentCheck.of(padded, b.length);
    }

    @Test
    void empty() {
        assertEquals(new ContentCheck(false, false, 0, 0), check(""));
    }

    @Test
    void lineLengthCountsTheCrlf() {
        assertEquals(7, check("hello\r\n").longestLine());
        assertEquals(1000, check("a\r\n" + "x".repeat(998) + "\r\nb\r\n").longestLine());
        assertEquals(1001, check("x".repeat(999) + "\r\n").longestLine());
        assertEquals(2, check("\r\n\r\n").longestLine());
    }

    @Test
    void lastLineWithoutCrlfIsCountedAsItIs() {
        assertEquals(10, check("ab\r\n" + "y".repeat(10)).longestLine());
    }

    @Test
    void receivedCountedOnlyInTheHeaderSection() {
        String header = "Received: a\r\nreceived: b\r\nRECEIVED: c\r\nReceived-SPF: pass\r\nX-Received: d\r\n  Received: folded\r\n";
        ContentCheck c = check(header + "\r\nReceived: in the body\r\nReceived: again\r\n");
        assertEquals(3, c.receivedHeaders());
        assertFalse(c.bareLineEnding());
    }

    @Test
    void contentWithoutABodyCountsAllItsHeaderLines() {
        assertEquals(2, check("Received: a\r\nReceived: b\r\n").receivedHeaders());
        assertEquals(0, check("\r\nReceived: a\r\n").receivedHeaders(), "an empty first line starts the body");
    }

    @Test
    void bareLineEndings() {
        assertFalse(check("a\r\nb\r\n").bareLineEnding());
        assertTrue(check("a\nb\r\n").bareLineEnding());
        assertTrue(check("a\rb\r\n").bareLineEnding());
        assertTrue(check("a\r\n\n").bareLineEnding());
        assertTrue(check("a\r\r\n").bareLineEnding());
        assertTrue(check("a\r").bareLineEnding(), "a CR as the last octet");
        assertTrue(check("\n").bareLineEnding());
        assertFalse(check("no line end at all").bareLineEnding());
    }

    @Test
    void bareLineEndingBeforeTheBlankLineStillEndsNoHeaderEarly() {
        // "Received:" after a bare LF is not at the start of a CRLF line: it is not counted
        ContentCheck c = check("Subject: x\nReceived: y\r\n\r\n");
        assertTrue(c.bareLineEnding());
        assertEquals(0, c.receivedHeaders());
    }
}
