package dev.portcullis.pop3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link Connection} in memory, driven by the test as the client: {@link #send} hands the session one chunk of
 * bytes (what one TCP segment would carry), {@link #line} and {@link #multiline} read its replies. No sockets.
 * The session's read timeout is honoured, so a silent client times out as it would on a socket. STLS is a
 * pretend handshake: the connection just says it is TLS from then on and counts handshakes.
 */
final class MemoryConnection implements Connection {
    private static final byte[] EOF = new byte[0];
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final InetAddress remote;
    private final LinkedBlockingQueue<byte[]> chunks = new LinkedBlockingQueue<>();
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();
    private int readPos;
    private volatile boolean tls;
    private final boolean canStartTls;
    private volatile int handshakes;
    private volatile boolean closed;
    private volatile long timeoutMillis = 0;

    private final InputStream input = new InputStream() {
        private byte[] current = new byte[0];
        private int pos;

        @Override public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            if (current == EOF) return -1;
            if (pos == current.length) {
                byte[] next;
                try {
                    next = timeoutMillis > 0 ? chunks.poll(timeoutMillis, TimeUnit.MILLISECONDS) : chunks.take();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
                if (next == null) throw new SocketTimeoutException("read timed out");
                current = next;
                pos = 0;
                if (current == EOF) return -1;
            }
            int n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override public int available() { return current == EOF ? 0 : current.length - pos; }
    };

    private final OutputStream output = new OutputStream() {
        @Override public void write(int b) { write(new byte[] {(byte) b}, 0, 1); }

        @Override public void write(byte[] b, int off, int len) {
            synchronized (written) {
                written.write(b, off, len);
                written.notifyAll();
            }
        }
    };

    MemoryConnection(String remoteIp, boolean canStartTls) {
        try {
            this.remote = InetAddress.getByName(remoteIp);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
        this.canStartTls = canStartTls;
    }

    // ---- the session's side

    @Override public InputStream input() { return input; }
    @Override public OutputStream output() { return output; }
    @Override public InetAddress remoteAddress() { return remote; }
    @Override public boolean isTls() { return tls; }
    @Override public boolean canStartTls() { return canStartTls && !tls; }

    @Override public void startTls() {
        tls = true;
        handshakes++;
    }

    @Override public void readTimeout(Duration timeout) { timeoutMillis = timeout.toMillis(); }

    @Override public void close() {
        synchronized (written) {
            closed = true;
            written.notifyAll();
        }
    }

    // ---- the client's side

    MemoryConnection send(String raw) {
        chunks.add(raw.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** Sends {@code line} + CRLF and reads the one-line reply. */
    String command(String line) {
        send(line + "\r\n");
        return line();
    }

    /** The client hangs up. */
    void hangUp() { chunks.add(EOF); }

    int handshakes() { return handshakes; }

    boolean isClosed() { return closed; }

    /** The next reply line without CRLF, or null when the session closed the connection with nothing more to say. */
    String line() {
        long deadline = System.nanoTime() + WAIT.toNanos();
        synchronized (written) {
            while (true) {
                byte[] all = written.toByteArray();
                for (int i = readPos; i + 1 < all.length; i++) {
                    if (all[i] == '\r' && all[i + 1] == '\n') {
                        String s = new String(all, readPos, i - readPos, StandardCharsets.UTF_8);
                        readPos = i + 2;
                        return s;
                    }
                }
                if (closed) return null;
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("no reply line within " + WAIT + "; got so far: " + transcript());
                try {
                    TimeUnit.NANOSECONDS.timedWait(written, left);
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    /** The lines of a multi-line reply after its first line, up to the "." (not un-stuffed). */
    List<String> multiline() {
        List<String> lines = new ArrayList<>();
        for (String l = line(); !".".equals(l); l = line()) {
            if (l == null) throw new AssertionError("connection closed inside a multi-line reply: " + lines);
            lines.add(l);
        }
        return lines;
    }

    /** Waits until the session has closed the connection. */
    void awaitClosed() {
        long deadline = System.nanoTime() + WAIT.toNanos();
        synchronized (written) {
            while (!closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("session did not close the connection; transcript: " + transcript());
                try {
                    TimeUnit.NANOSECONDS.timedWait(written, left);
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    /** Bytes the session wrote that the client has not read yet. */
    String unread() {
        synchronized (written) {
            byte[] all = written.toByteArray();
            return new String(all, readPos, all.length - readPos, StandardCharsets.UTF_8);
        }
    }

    String transcript() {
        synchronized (written) {
            return written.toString(StandardCharsets.UTF_8);
        }
    }
}
