package dev.portcullis.net;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/*
 * A BufferedOutputStream whose buffer is allocated at the first write and grows as needed up to its
 * limit, where it is written out. java.io's allocates the whole buffer up front: 4 KB for each of ten
 * thousand connections held silent in a greeting delay, before a byte is ever written.
 */
public final class LazyBufferedOutputStream extends OutputStream {

    private static final byte[] NONE = new byte[0];
    private final OutputStream out;
    private final int limit;
    private byte[] buf = NONE;
    private int count;

    public LazyBufferedOutputStream(OutputStream out, int limit) {
        this.out = out;
        this.limit = limit;
    }

    @Override public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override public void write(byte[] b, int off, int len) throws IOException {
        if (count + len > limit) {
            flushBuffer();
            if (len >= limit) {   // bigger than the buffer could ever be: straight through
                out.write(b, off, len);
                return;
            }
        }
        if (count + len > buf.length) buf = Arrays.copyOf(buf, Math.min(limit, Math.max(count + len, Math.max(256, buf.length * 2))));
        System.arraycopy(b, off, buf, count, len);
        count += len;
    }

    /** Whether bytes wait in the buffer for a flush. */
    public boolean hasBuffered() { return count > 0; }

    @Override public void flush() throws IOException {
        flushBuffer();
        out.flush();
    }

    @Override public void close() throws IOException {
        try {
            flush();
        } finally {
            out.close();
        }
    }

    private void flushBuffer() throws IOException {
        if (count > 0) {
            out.write(buf, 0, count);
            count = 0;
        }
    }
}
