package dev.portcullis.smtp;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A client that says one scripted line per server reply, in lockstep, with no socket: how
 * {@code portcullis check} puts a pretend client through the real session and plugins. A line is due only
 * after the reply to the previous one was written, so a greeting delay sees a patient client (its wait
 * ends at once instead of taking the configured time) and every reply belongs to one command.
 */
final class ScriptedTransport implements Transport {
    private final InetSocketAddress remote;
    private final InetSocketAddress local;
    private final List<byte[]> lines = new ArrayList<>();
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();
    private int next;

    ScriptedTransport(InetAddress client, List<String> script) {
        this.remote = new InetSocketAddress(client, 40000);
        this.local = new InetSocketAddress(InetAddress.getLoopbackAddress(), 25);
        for (String s : script) lines.add((s + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Everything the server wrote, as text. */
    String transcript() { return written.toString(StandardCharsets.UTF_8); }

    /** Final reply lines written so far ("250 ...", not "250-..."). */
    private int repliesWritten() {
        int n = 0;
        for (String line : transcript().split("\r\n")) if (line.length() >= 4 && line.charAt(3) == ' ') n++;
        return n;
    }

    private final InputStream in = new InputStream() {
        private byte[] current;
        private int pos;

        @Override public int read() throws java.io.IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override public int read(byte[] b, int off, int len) throws java.io.IOException {
            if (current == null || pos >= current.length) {
                if (next >= lines.size()) return -1;
                if (repliesWritten() <= next) throw new SocketTimeoutException("scripted client waits for a reply");
                current = lines.get(next++);
                pos = 0;
            }
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override public int available() {
            return current == null ? 0 : current.length - pos;
        }
    };

    @Override public InputStream input() { return in; }
    @Override public OutputStream output() { return written; }
    @Override public InetSocketAddress remote() { return remote; }
    @Override public InetSocketAddress local() { return local; }
    @Override public boolean isTls() { return false; }
    @Override public boolean canStartTls() { return false; }
    @Override public void startTls() { throw new UnsupportedOperationException(); }
    @Override public void readTimeout(Duration timeout) {}
    @Override public void probeTimeout(Duration wait) {}
    @Override public void close() {}
}
