package dev.portcullis.smtp;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Framing of the client's byte stream: command lines, DATA content and BDAT chunks. No socket in sight,
 * so the engine can be fed from memory.
 *
 * Invariants:
 * - End of data is CRLF "." CRLF and nothing else. A bare CR or bare LF anywhere in DATA content stops
 *   the read with {@link DataEnd#BARE_LINE_ENDING}; the caller refuses and closes, so none of the SMTP
 *   smuggling endings (LF.LF, CR.CR, LF.CRLF, CRLF.LF, ...) can end one message and start another.
 * - Before any read that would block, {@code beforeBlock} runs: that is where pending replies are
 *   flushed, which gives PIPELINING (RFC 2920) its batching and keeps replies in command order.
 * - {@link #discardBuffered()} drops what the client sent ahead (RFC 3207 section 4.2: STARTTLS).
 */
final class SmtpInput {
    interface BeforeBlock { void run() throws IOException; }

    enum DataEnd { COMPLETE, BARE_LINE_ENDING }

    /** A command line; {@code tooLong} means its content was dropped and only the length is known. */
    record Line(byte[] bytes, int length, boolean tooLong) {}

    private static final int LINE_START = 0, IN_LINE = 1, CR_SEEN = 2, DOT_AT_START = 3, DOT_CR = 4;

    private final byte[] buf = new byte[16384];
    private int pos, limit;
    private InputStream in;
    private final BeforeBlock beforeBlock;

    SmtpInput(InputStream in, BeforeBlock beforeBlock) {
        this.in = in;
        this.beforeBlock = beforeBlock;
    }

    /** After a TLS handshake: read from the new stream, and nothing that came before it. */
    void switchTo(InputStream newIn) {
        discardBuffered();
        in = newIn;
    }

    void discardBuffered() { pos = limit = 0; }

    boolean hasBuffered() { return pos < limit; }

    /**
     * Reads one command line, terminated by LF (a preceding CR is removed). Lines longer than
     * {@code max} octets are consumed to their end and reported as too long. Returns null at end of stream.
     */
    Line readCommandLine(int max) throws IOException {
        byte[] line = new byte[Math.min(max, 1024)];
        int len = 0;
        boolean tooLong = false;
        while (true) {
            if (pos == limit && !fill()) {
                if (len == 0 && !tooLong) return null;
                throw new EOFException("connection closed in the middle of a command");
            }
            int start = pos;
            while (pos < limit && buf[pos] != '\n') pos++;
            int n = pos - start;
            if (!tooLong) {
                if (len + n > max + 1) { // +1: the CR before LF is not part of the limit's count
                    tooLong = true;
                } else {
                    if (len + n > line.length) line = java.util.Arrays.copyOf(line, Math.max(len + n, line.length * 2));
                    System.arraycopy(buf, start, line, len, n);
                    len += n;
                }
            }
            if (pos < limit) { // found LF
                pos++;
                if (tooLong) return new Line(new byte[0], 0, true);
                if (len > 0 && line[len - 1] == '\r') len--;
                if (len > max) return new Line(new byte[0], 0, true);
                return new Line(line, len, false);
            }
        }
    }

    /**
     * Reads DATA content up to the terminating CRLF.CRLF, removing dot-stuffing (RFC 5321 4.5.2) and
     * storing every line with CRLF. Stops early at the first bare CR or LF.
     */
    DataEnd readData(MessageBuffer out) throws IOException {
        int state = LINE_START;
        while (true) {
            if (pos == limit && !fill()) throw new EOFException("connection closed during DATA");
            byte c = buf[pos];
            switch (state) {
                case LINE_START -> {
                    if (c == '.') { pos++; state = DOT_AT_START; }
                    else state = IN_LINE;
                }
                case DOT_AT_START -> {
                    if (c == '\r') { pos++; state = DOT_CR; }
                    else if (c == '\n') return DataEnd.BARE_LINE_ENDING;
                    else state = IN_LINE; // the stuffed dot is dropped
                }
                case DOT_CR -> {
                    if (c == '\n') { pos++; return DataEnd.COMPLETE; }
                    return DataEnd.BARE_LINE_ENDING;
                }
                case IN_LINE -> {
                    int start = pos;
                    while (pos < limit && buf[pos] != '\r' && buf[pos] != '\n') pos++;
                    out.append(buf, start, pos - start);
                    if (pos < limit) {
                        if (buf[pos] == '\n') return DataEnd.BARE_LINE_ENDING;
                        pos++;
                        state = CR_SEEN;
                    }
                }
                case CR_SEEN -> {
                    if (c != '\n') return DataEnd.BARE_LINE_ENDING;
                    pos++;
                    out.appendCrlf();
                    state = LINE_START;
                }
                default -> throw new IllegalStateException();
            }
        }
    }

    /** Reads exactly {@code count} octets (a BDAT chunk, RFC 3030) into {@code out}. */
    void readChunk(long count, MessageBuffer out) throws IOException {
        long left = count;
        while (left > 0) {
            if (pos == limit && !fill()) throw new EOFException("connection closed during BDAT");
            int n = (int) Math.min(left, limit - pos);
            out.append(buf, pos, n);
            pos += n;
            left -= n;
        }
    }

    /**
     * Waits until the client sends something (true) or {@code timeoutExpired} reports the read timed out
     * (false). The caller sets the read timeout first. Data read is kept in the buffer.
     */
    boolean awaitInput() throws IOException {
        if (pos < limit) return true;
        try {
            return fill();
        } catch (java.net.SocketTimeoutException quiet) {
            return false;
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
