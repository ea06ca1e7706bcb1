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

    /** The scan as it was, one octet at a time: the reference the word-at-a-time scan must agree with. */
    private static ContentCheck octetByOctet(byte[] b, int len) {
        boolean bare = false, nul = false, inHeader = true;
        int longest = 0, received = 0, lineStart = 0;
        for (int i = 0; i < len; i++) {
            byte c = b[i];
            if (c == '\r') {
                if (i + 1 >= len || b[i + 1] != '\n') { bare = true; continue; }
                longest = Math.max(longest, i - lineStart + 2);
                if (inHeader) {
                    if (i == lineStart) inHeader = false;
                    else if (new String(b, lineStart, i - lineStart, StandardCharsets.ISO_8859_1).toLowerCase(java.util.Locale.ROOT).startsWith("received:")) received++;
                }
                i++;
                lineStart = i + 1;
            } else if (c == '\n') {
                bare = true;
            } else if (c == 0) {
                nul = true;
            }
        }
        longest = Math.max(longest, len - lineStart);
        return new ContentCheck(bare, nul, longest, received);
    }

    @Test
    void agreesWithAnOctetByOctetScanOnRandomMessages() {
        String[] pieces = {"\r\n", "\r\n", "\r\n", "\r", "\n", "\u0000", "Received: x", "RECEIVED:", "received", "\r\n\r\n",
                "\u008d", "\u008a", "abcdefghij", "x".repeat(37), "\r\nReceived: from a\r\n"};
        java.util.Random random = new java.util.Random(5321);
        for (int round = 0; round < 5000; round++) {
            StringBuilder sb = new StringBuilder();
            for (int n = random.nextInt(30); n > 0; n--) sb.append(pieces[random.nextInt(pieces.length)]);
            byte[] b = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
            int len = b.length == 0 ? 0 : random.nextInt(b.length + 1);   // the buffer may hold more than len
            assertEquals(octetByOctet(b, len), ContentCheck.of(b, len), () -> sb.toString().replace("\r", "\\r").replace("\n", "\\n"));
        }
    }
}
