package dev.portcullis.smtp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link Transport} in memory, for the engine's tests: no sockets.
 *
 * The client's bytes come in <em>segments</em>. A segment is what the client sends after it has waited for
 * replies (one packet of a pipelining client; the first one is sent after the greeting): inside a segment
 * {@code available()} reports the bytes left, before and between segments it reports 0 — "the next read
 * would block" — which is exactly when the engine must flush its pending replies. A script given as one
 * segment is a client that sends everything at once after the greeting.
 *
 * When the last segment is used up, reads return end of stream, or throw {@link SocketTimeoutException}
 * with {@link #timeoutAtEnd()} (a client that goes silent).
 *
 * Every write to the output is recorded with the number of segments the engine had started reading at
 * that moment, so a test can tell which replies went out together and when.
 */
final class MemoryTransport implements Transport {

    /** One write the engine made to the connection. */
    record Write(String text, int segmentsRead) {}

    private InetSocketAddress remote = address("127.0.0.1", 40000);
    private InetSocketAddress local = address("127.0.0.1", 25);
    private boolean tls;
    private boolean canStartTls;
    private ClientStream in;
    private RecordingOutput out;
    private ClientStream tlsIn;
    private RecordingOutput tlsOut;
    private final List<Duration> readTimeouts = new ArrayList<>();
    private final List<Duration> probeTimeouts = new ArrayList<>();
    private boolean closed;
    private boolean timeoutAtEnd;

    private MemoryTransport(List<byte[]> segments) {
        this.in = new ClientStream(segments);
        this.out = new RecordingOutput(in);
    }

    /**
     * A segment that is no bytes but a pause: the read that reaches it times out once
     * ({@link SocketTimeoutException}), and the client goes on with the next segment. Compared by identity.
     */
    @SuppressWarnings("StringOperationCanBeSimplified")
    static final String SILENCE = new String("(silence)");

    /** A client that sends these segments (strings encoded as UTF-8, so ASCII stays ASCII). */
    static MemoryTransport of(String... segments) {
        return new MemoryTransport(bytes(segments));
    }

    private static List<byte[]> bytes(String... segments) {
        List<byte[]> bytes = new ArrayList<>();
        for (String s : segments) bytes.add(s == SILENCE ? ClientStream.PAUSE : s.getBytes(StandardCharsets.UTF_8));
        return bytes;
    }

    /** A client that sends these raw segments. */
    static MemoryTransport ofBytes(byte[]... segments) {
        return new MemoryTransport(List.of(segments));
    }

    /** When the client's bytes are used up, the next read times out instead of seeing end of stream. */
    MemoryTransport timeoutAtEnd() {
        timeoutAtEnd = true;
        in.timeoutAtEnd = true;
        if (tlsIn != null) tlsIn.timeoutAtEnd = true;
        return this;
    }

    /** The connection is TLS from the start (implicit TLS, RFC 8314). */
    MemoryTransport implicitTls() {
        tls = true;
        return this;
    }

    MemoryTransport remote(String ip, int port) {
        remote = address(ip, port);
        return this;
    }

    /**
     * Offers STARTTLS; after the handshake the client sends {@code afterHandshake} on the "encrypted"
     * streams, and replies go to a separate output ({@link #tlsWritten()}).
     */
    MemoryTransport startTlsThen(String... afterHandshake) {
        canStartTls = true;
        tlsIn = new ClientStream(bytes(afterHandshake));
        tlsIn.timeoutAtEnd = timeoutAtEnd;
        tlsOut = new RecordingOutput(tlsIn);
        return this;
    }

    // ---- Transport ------------------------------------------------------------------------------

    @Override public InputStream input() { return in; }
    @Override public OutputStream output() { return out; }
    @Override public InetSocketAddress remote() { return remote; }
    @Override public InetSocketAddress local() { return local; }
    @Override public boolean isTls() { return tls; }
    @Override public boolean canStartTls() { return canStartTls && !tls; }

    @Override public void startTls() throws IOException {
        if (tlsIn == null) throw new IOException("no TLS in this test");
        plainIn = in;
        plainOut = out;
        in = tlsIn;
        out = tlsOut;
        tls = true;
    }

    @Override public void readTimeout(Duration timeout) { readTimeouts.add(timeout); }

    @Override public void probeTimeout(Duration wait) { probeTimeouts.add(wait); }

    @Override public void close() { closed = true; }

    // ---- what the test looks at -----------------------------------------------------------------

    private ClientStream plainIn;
    private RecordingOutput plainOut;

    /** Everything written on the plain-text connection (before STARTTLS, if any). */
    String written() { return (plainOut != null ? plainOut : out).all.toString(StandardCharsets.UTF_8); }

    /** Everything written after the TLS handshake ("" if none). */
    String tlsWritten() { return tlsOut == null ? "" : tlsOut.all.toString(StandardCharsets.UTF_8); }

    /** The writes that reached the plain-text connection, in order. */
    List<Write> writes() { return List.copyOf((plainOut != null ? plainOut : out).writes); }

    int flushes() { return (plainOut != null ? plainOut : out).flushes; }

    List<Duration> readTimeouts() { return List.copyOf(readTimeouts); }

    List<Duration> probeTimeouts() { return List.copyOf(probeTimeouts); }

    boolean closed() { return closed; }

    /** Bytes of the plain-text client script the engine never read. */
    int unread() { return (plainIn != null ? plainIn : in).unread(); }

    private static InetSocketAddress address(String ip, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(ip), port); // a literal: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    /** The client's side of the byte stream, delivered segment by segment. */
    static final class ClientStream extends InputStream {
        static final byte[] PAUSE = new byte[0];
        private final List<byte[]> segments;
        private int seg;
        private int pos;
        /** Segments the engine has read at least one byte of. */
        int started;
        boolean timeoutAtEnd;

        ClientStream(List<byte[]> segments) {
            this.segments = new ArrayList<>(segments);
            this.segments.removeIf(s -> s.length == 0 && s != PAUSE);
        }

        @Override public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (seg < segments.size() && segments.get(seg) != PAUSE && pos == segments.get(seg).length) { seg++; pos = 0; }
            if (seg >= segments.size()) {
                if (timeoutAtEnd) throw new SocketTimeoutException("test: client went silent");
                return -1;
            }
            if (segments.get(seg) == PAUSE) {
                seg++;
                pos = 0;
                throw new SocketTimeoutException("test: a pause");
            }
            if (pos == 0) started = seg + 1;
            byte[] s = segments.get(seg);
            int n = Math.min(len, s.length - pos);
            System.arraycopy(s, pos, b, off, n);
            pos += n;
            return n;
        }

        /**
         * What has "arrived": the rest of the segment being read. A segment arrives only once the engine
         * reads while nothing is available (the client waits for replies before sending it), so at the start
         * and at every boundary this is 0.
         */
        @Override public int available() {
            if (seg >= segments.size() || pos == 0) return 0;
            return segments.get(seg).length - pos;
        }

        int unread() {
            int n = 0;
            for (int i = seg; i < segments.size(); i++) n += segments.get(i).length - (i == seg ? pos : 0);
            return n;
        }
    }

    /** The server's side: keeps everything, and each write separately. */
    static final class RecordingOutput extends OutputStream {
        final ByteArrayOutputStream all = new ByteArrayOutputStream();
        final List<Write> writes = new ArrayList<>();
        int flushes;
        private final ClientStream reading;

        RecordingOutput(ClientStream reading) { this.reading = reading; }

        @Override public void write(int b) { write(new byte[] {(byte) b}, 0, 1); }

        @Override public void write(byte[] b, int off, int len) {
            all.write(b, off, len);
            writes.add(new Write(new String(b, off, len, StandardCharsets.UTF_8), reading.started));
        }

        @Override public void flush() { flushes++; }
    }
}
