package dev.portcullis.smtp;

import java.util.Arrays;

/**
 * The message being received, in memory, bounded by the size limit: past the limit bytes are counted
 * but not kept, so an oversized message is read to its end (the client is owed a 552 after it, not a
 * broken connection) without the server's memory following the client's.
 */
final class MessageBuffer {
    private final long limit;
    private byte[] bytes = new byte[8192];
    private int length;
    private long total;

    MessageBuffer(long limit) { this.limit = limit; }

    void append(byte[] src, int off, int len) {
        total += len;
        if (overflowed()) return;
        ensure(length + len);
        System.arraycopy(src, off, bytes, length, len);
        length += len;
    }

    void appendCrlf() {
        total += 2;
        if (overflowed()) return;
        ensure(length + 2);
        bytes[length++] = '\r';
        bytes[length++] = '\n';
    }

    boolean overflowed() { return total > limit; }

    /** Bytes received, including any past the limit. */
    long total() { return total; }

    int length() { return length; }

    byte[] array() { return bytes; }

    private void ensure(int needed) {
        if (needed > bytes.length) bytes = Arrays.copyOf(bytes, Math.max(needed, (int) Math.min(limit + 2, bytes.length * 2L)));
    }
}
