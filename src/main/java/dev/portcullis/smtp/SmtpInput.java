package dev.portcullis.smtp;

import dev.portcullis.net.LineInput;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * Framing of the client's byte stream: command lines (read by {@link LineInput}, which also flushes pending
 * replies before blocking and drops what came ahead of STARTTLS), DATA content and BDAT chunks. No socket in
 * sight, so the engine can be fed from memory.
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
    enum DataEnd { COMPLETE, BARE_LINE_ENDING }

    /** A command line; {@code tooLong} means its content was dropped and only the length is known. */
    record Line(byte[] bytes, int length, boolean tooLong) {}

    private static final int LINE_START = 0, IN_LINE = 1, CR_SEEN = 2, DOT_AT_START = 3, DOT_CR = 4;

    private final LineInput in;

    SmtpInput(InputStream in, LineInput.BeforeBlock beforeBlock) {
        this.in = new LineInput(in, 16384, beforeBlock);
    }

    /** After a TLS handshake: read from the new stream, and nothing that came before it. */
    void switchTo(InputStream newIn) { in.switchTo(newIn); }

    void discardBuffered() { in.discardBuffered(); }

    boolean hasBuffered() { return in.hasBuffered(); }

    /**
     * Reads one command line, terminated by LF (a preceding CR is removed). Lines longer than
     * {@code max} octets are consumed to their end and reported as too long. Returns null at end of stream;
     * a stream that ends in the middle of a line throws {@link EOFException}.
     */
    Line readCommandLine(int max) throws IOException {
        return in.readLine(max, Line::new);
    }

    /**
     * Reads DATA content up to the terminating CRLF.CRLF, removing dot-stuffing (RFC 5321 4.5.2) and
     * storing every line with CRLF. Stops early at the first bare CR or LF.
     */
    DataEnd readData(MessageBuffer out) throws IOException {
        LineInput.Sink sink = out::append;
        int state = LINE_START;
        while (true) {
            if (!in.ensureBuffered()) throw new EOFException("connection closed during DATA");
            byte c = in.peek();
            switch (state) {
                case LINE_START -> {
                    if (c == '.') { in.skip(); state = DOT_AT_START; }
                    else state = IN_LINE;
                }
                case DOT_AT_START -> {
                    if (c == '\r') { in.skip(); state = DOT_CR; }
                    else if (c == '\n') return DataEnd.BARE_LINE_ENDING;
                    else state = IN_LINE; // the stuffed dot is dropped
                }
                case DOT_CR -> {
                    if (c == '\n') { in.skip(); return DataEnd.COMPLETE; }
                    return DataEnd.BARE_LINE_ENDING;
                }
                case IN_LINE -> {
                    in.copyLines(sink);
                    if (in.hasBuffered()) {
                        if (in.peek() == '\n') return DataEnd.BARE_LINE_ENDING;
                        in.skip();
                        state = CR_SEEN;
                    }
                }
                case CR_SEEN -> {
                    if (c != '\n') return DataEnd.BARE_LINE_ENDING;
                    in.skip();
                    out.appendCrlf();
                    state = LINE_START;
                }
                default -> throw new IllegalStateException();
            }
        }
    }

    /** Reads exactly {@code count} octets (a BDAT chunk, RFC 3030) into {@code out}. */
    void readChunk(long count, MessageBuffer out) throws IOException {
        LineInput.Sink sink = out::append;
        long left = count;
        while (left > 0) {
            if (!in.ensureBuffered()) throw new EOFException("connection closed during BDAT");
            left -= in.copy(left, sink);
        }
    }

    /**
     * Waits until the client sends something (true) or the read times out (false). The caller sets the
     * transport's probe timeout first. Data read is kept in the buffer.
     */
    boolean awaitInput() throws IOException {
        try {
            return in.ensureBuffered();
        } catch (java.net.SocketTimeoutException quiet) {
            return false;
        }
    }
}
