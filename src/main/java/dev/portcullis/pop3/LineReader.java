package dev.portcullis.pop3;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Framing of the client's byte stream into command lines. No socket in sight, so the engine can be fed from
 * memory.
 *
 * Invariants:
 * - A line ends at LF; a CR just before it is dropped (a bare LF is tolerated, as most servers do).
 * - A line longer than the limit is consumed to its end and reported as too long, its content dropped, so one
 *   oversized line costs one -ERR and nothing else (RFC 2449 section 4: commands are at most 255 octets).
 * - Before any read that would block, {@code beforeBlock} runs: that is where pending replies are flushed, so a
 *   pipelining client (RFC 2449 section 6.6) gets its replies in batches and in command order.
 * - {@link #switchTo} drops whatever the client sent ahead of a TLS handshake (RFC 2595 section 4, as RFC 3207
 *   4.2 for SMTP): bytes that arrived in clear must never be read as if they had come through TLS.
 */
final class LineReader {
    interface BeforeBlock { void run() throws IOException; }

    /** A line without its CRLF; {@code tooLong} means its content was dropped. */
    record Line(String text, boolean tooLong) {}

    private final byte[] buf = new byte[8192];
    private int pos, limit;
    private InputStream in;
    private final BeforeBlock beforeBlock;

    LineReader(InputStream in, BeforeBlock beforeBlock) {
        this.in = in;
        this.beforeBlock = beforeBlock;
    }

    /** After a TLS handshake: read from the new stream, and nothing that came before it. */
    void switchTo(InputStream newIn) {
        discardBuffered();
        in = newIn;
    }

    void discardBuffered() { pos = limit = 0; }

    /**
     * Reads one line of at most {@code max} octets (CRLF not counted). Returns null at end of stream, also when
     * the stream ends in the middle of a line (the client is gone: there is nobody to answer).
     */
    Line readLine(int max) throws IOException {
        byte[] line = new byte[Math.min(max + 1, 512)];
        int len = 0;
        boolean tooLong = false;
        while (true) {
            if (pos == limit && !fill()) return null;
            int start = pos;
            while (pos < limit && buf[pos] != '\n') pos++;
            int n = pos - start;
            if (!tooLong) {
                if (len + n > max + 1) { // +1: room for the CR that may precede LF
                    tooLong = true;
                } else {
                    if (len + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(len + n, line.length * 2));
                    System.arraycopy(buf, start, line, len, n);
                    len += n;
                }
            }
            if (pos < limit) { // the LF
                pos++;
                if (tooLong) return new Line("", true);
                if (len > 0 && line[len - 1] == '\r') len--;
                if (len > max) return new Line("", true);
                // UTF-8 so that non-ASCII passwords work; malformed bytes become U+FFFD and simply fail to match
                return new Line(new String(line, 0, len, StandardCharsets.UTF_8), false);
            }
        }
    }

    private boolean fill() throws IOException {
        if (in.available() <= 0) beforeBlock.run();
        int n = in.read(buf, 0, buf.length);
        if (n <= 0) return false;
        pos = 0;
        limit = n;
        return true;
    }
}
