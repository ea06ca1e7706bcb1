package dev.portcullis.net;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * The client's byte stream as a protocol engine reads it: command lines of bounded length, and the buffered
 * octets themselves for framing a protocol builds on top (SMTP's DATA and BDAT). No socket in sight, so the
 * engines can be fed from memory.
 *
 * Invariants:
 * - A line ends at LF; a CR just before it is dropped (a bare LF is tolerated, as most servers do).
 * - A line longer than the limit is consumed to its end and reported as too long, its content dropped, so one
 *   oversized line costs one error reply and nothing else.
 * - Before any read that would block, {@code beforeBlock} runs: that is where pending replies are flushed, so a
 *   pipelining client (RFC 2920, RFC 2449 section 6.6) gets its replies in batches and in command order.
 * - {@link #switchTo} and {@link #discardBuffered} drop whatever the client sent ahead of a TLS handshake
 *   (RFC 3207 section 4.2, RFC 2595 section 4): bytes that arrived in clear must never be read as if they had
 *   come through TLS.
 */
public final class LineInput {
    public interface BeforeBlock {
        void run() throws IOException;

        /** Whether {@link #run} has anything to do: when not, the socket is not asked what it holds. */
        default boolean pending() { return true; }
    }

    /** Makes a protocol's line from {@code bytes[0..length)}, the line without CRLF; empty when {@code tooLong}. */
    public interface LineMaker<T> { T make(byte[] bytes, int length, boolean tooLong); }

    /** Where buffered octets are copied to. */
    public interface Sink { void append(byte[] bytes, int off, int len); }

    /** The stream ended in the middle of a line. */
    public static final class CutShort extends EOFException {
        CutShort() { super("connection closed in the middle of a command"); }
    }

    /*
     * The buffer starts small and doubles, up to bufferSize, each time a read fills it: an idle connection
     * (ten thousand of them held in a greeting delay) costs a few hundred bytes, a client streaming DATA
     * gets the big buffer after a few reads.
     */
    private static final int FIRST_BUFFER = 512;
    private byte[] buf = new byte[0];
    private final int maxBuffer;
    private int pos, limit;
    private InputStream in;
    private final BeforeBlock beforeBlock;

    public LineInput(InputStream in, int bufferSize, BeforeBlock beforeBlock) {
        this.in = in;
        this.maxBuffer = bufferSize;
        this.beforeBlock = beforeBlock;
    }

    /** After a TLS handshake: read from the new stream, and nothing that came before it. */
    public void switchTo(InputStream newIn) {
        discardBuffered();
        in = newIn;
    }

    public void discardBuffered() { pos = limit = 0; }

    public boolean hasBuffered() { return pos < limit; }

    /** The buffer's current size (tests: an idle connection must not hold the big one). */
    int bufferCapacity() { return buf.length; }

    /**
     * Reads one line of at most {@code max} octets (CRLF not counted), terminated by LF. A longer line is
     * consumed to its end and made as too long. Returns null at end of stream, and throws {@link CutShort}
     * when the stream ends in the middle of a line.
     */
    public <T> T readLine(int max, LineMaker<T> maker) throws IOException {
        byte[] line = new byte[(int) Math.min(max + 1L, 128)];   // grown below: most commands are short
        int len = 0;
        boolean tooLong = false;
        while (true) {
            if (!ensureBuffered()) {
                if (len == 0 && !tooLong) return null;
                throw new CutShort();
            }
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
                if (tooLong) return maker.make(new byte[0], 0, true);
                if (len > 0 && line[len - 1] == '\r') len--;
                if (len > max) return maker.make(new byte[0], 0, true);
                return maker.make(line, len, false);
            }
        }
    }

    /**
     * True when an octet is buffered, reading (after {@code beforeBlock}) when none is; false at end of stream.
     * The octet-level methods below need it to have returned true.
     */
    public boolean ensureBuffered() throws IOException {
        return pos < limit || fill();
    }

    /** The next octet, left in the buffer. */
    public byte peek() { return buf[pos]; }

    /** Consumes the next octet. */
    public void skip() { pos++; }

    /**
     * Consumes buffered content lines into {@code out} in one piece, up to (not including) the first CR or
     * LF the caller must look at itself: a bare one, or the CR of a CRLF whose next line is not buffered yet
     * or starts with a dot (dot-stuffing, or the end of DATA). Without any, it consumes the whole buffer.
     * Copying whole lines at once instead of a line at a time: DATA framing does not stop per line.
     */
    public void copyLines(Sink out) {
        int start = pos, i = pos;
        while (true) {
            i = ByteScan.lineBreak(buf, i, limit);
            if (i + 2 < limit && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] != '.') i += 2;
            else break;
        }
        out.append(buf, start, i - start);
        pos = i;
    }

    /** Consumes up to {@code max} buffered octets into {@code out}; returns how many. */
    public int copy(long max, Sink out) {
        int n = (int) Math.min(max, limit - pos);
        out.append(buf, pos, n);
        pos += n;
        return n;
    }

    private boolean fill() throws IOException {
        // available() is an ioctl: asked only when there are replies that a waiting command could join
        if (beforeBlock.pending() && in.available() <= 0) beforeBlock.run();
        if (buf.length == 0 || (limit == buf.length && buf.length < maxBuffer)) {
            // first read, or the last one filled the buffer: more is coming than it holds (pos == limit here)
            buf = new byte[buf.length == 0 ? Math.min(FIRST_BUFFER, maxBuffer) : Math.min(buf.length * 2, maxBuffer)];
        }
        int n = in.read(buf, 0, buf.length);
        if (n <= 0) return false;
        pos = 0;
        limit = n;
        return true;
    }
}
