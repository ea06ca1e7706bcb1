package dev.portcullis.smtp;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * A {@link Transport} in memory: the client has sent its whole script at once (PIPELINING). The server's
 * replies are counted, so a benchmark can consume their size, and kept only when asked (for checking).
 */
final class PipelinedClient implements Transport {
    private static final InetSocketAddress REMOTE = new InetSocketAddress(InetAddress.getLoopbackAddress(), 40000);
    private static final InetSocketAddress LOCAL = new InetSocketAddress(InetAddress.getLoopbackAddress(), 25);

    private final InputStream in;
    private final ByteArrayOutputStream kept;
    private long written;

    private final OutputStream out = new OutputStream() {
        @Override public void write(int b) { write(new byte[] {(byte) b}, 0, 1); }
        @Override public void write(byte[] b, int off, int len) {
            written += len;
            if (kept != null) kept.write(b, off, len);
        }
    };

    PipelinedClient(byte[] script, boolean keepReplies) {
        this.in = new ByteArrayInputStream(script);
        this.kept = keepReplies ? new ByteArrayOutputStream() : null;
    }

    /** Octets of replies the server wrote. */
    long written() { return written; }

    /** The replies, when kept. */
    String replies() { return kept == null ? "" : kept.toString(java.nio.charset.StandardCharsets.UTF_8); }

    @Override public InputStream input() { return in; }
    @Override public OutputStream output() { return out; }
    @Override public InetSocketAddress remote() { return REMOTE; }
    @Override public InetSocketAddress local() { return LOCAL; }
    @Override public boolean isTls() { return false; }
    @Override public boolean canStartTls() { return false; }
    @Override public void startTls() { throw new UnsupportedOperationException(); }
    @Override public void readTimeout(Duration timeout) {}
    @Override public void probeTimeout(Duration wait) {}
    @Override public void close() {}
}
