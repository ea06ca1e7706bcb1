package dev.portcullis.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLSocket;

/**
 * Bounds how long a connection's read or write may block (a client's, or ours to a peer MTA), with one
 * daemon thread for all of them instead of a timer per operation (RFC 5321 4.5.3.2: the server's timeouts
 * apply to both directions; Postfix's smtpd_timeout covers writes too). The thread looks at every watched
 * connection twice a second, so a bound is kept to within half a second.
 * <ul>
 * <li>Reads. With SO_TIMEOUT, every blocking read of a virtual thread is a timed park: a timer scheduled
 * and cancelled in the JDK's scheduler thread, which wakes up for each. At 20 busy sessions that thread
 * took about 10 % of the server's CPU and doubled the carriers' futex time (bench/README.md, compare's
 * Results). Here a read only notes when it began; one that waits too long is ended by shutting the
 * socket's input (shutdown SHUT_RD wakes the reader with end-of-stream), which the stream reports as
 * {@link SocketTimeoutException}. A session can still write its last reply (421). TLS sockets keep
 * SO_TIMEOUT for their reads: the SSLSocket's own shutdownInput takes the record lock a blocked reader
 * holds.</li>
 * <li>Writes. SO_TIMEOUT covers reads only, so a client that pipelines commands (or asks for a large POP3
 * RETR) and never reads our replies would block its session in write() forever once the buffers fill. A
 * write stuck too long is ended by closing the socket; the write then fails and the session ends.</li>
 * </ul>
 */
public final class IoWatchdog {
    private static final long IDLE = Long.MIN_VALUE;
    private static final Set<Watch> WATCHED = ConcurrentHashMap.newKeySet();

    static {
        Thread.ofPlatform().daemon().name("io-watchdog").start(() -> {
            while (true) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime();
                for (Watch w : WATCHED) w.check(now);
            }
        });
    }

    private IoWatchdog() {}

    /**
     * Starts watching {@code tcp}, the connection's TCP socket (not a TLS layer over it), with {@code timeoutNanos}
     * for reads and writes. The watch ends by itself once the socket is closed.
     */
    public static Watch watch(Socket tcp, long timeoutNanos) {
        Watch w = new Watch(tcp, timeoutNanos);
        WATCHED.add(w);
        return w;
    }

    /** Connections being watched (for tests: a closed one must not stay here). */
    static int watched() { return WATCHED.size(); }

    /**
     * One connection: when its current read and write began, and its bound. It also decides what bounds the
     * reads: this watchdog on the plain socket, SO_TIMEOUT on a TLS layer over it, or a probe's SO_TIMEOUT.
     */
    public static final class Watch {
        private final Socket tcp;
        private volatile Socket current; // tcp, or the TLS layer over it
        private volatile boolean probing;
        private volatile long timeoutNanos;
        private volatile boolean readsBounded = true;
        private volatile boolean readExpired;
        private volatile long readingSince = IDLE;
        private volatile long writingSince = IDLE;

        private Watch(Socket tcp, long timeoutNanos) {
            this.tcp = tcp;
            this.current = tcp;
            this.timeoutNanos = timeoutNanos;
        }

        /**
         * Reads and writes go through {@code s} from now on (the TCP socket, or a TLS layer over it); returns
         * its input stream, watched.
         */
        public InputStream use(Socket s) throws IOException {
            current = s;
            applyReadBound();
            return new WatchedInput(s.getInputStream());
        }

        /** A new bound for the reads and writes to come (sessions switch between command and data timeouts). */
        public void timeout(long nanos) throws IOException {
            timeoutNanos = nanos;
            applyReadBound();
        }

        public long timeoutNanos() { return timeoutNanos; }

        /**
         * Until called again with {@link Duration#ZERO}, reads wait at most {@code wait} (SO_TIMEOUT), and one
         * that times out leaves the connection usable.
         */
        public void probe(Duration wait) throws IOException {
            probing = !wait.isZero();
            if (probing) {
                readsBounded = false;
                current.setSoTimeout(millis(wait.toNanos()));
            } else {
                applyReadBound();
            }
        }

        /** Before a TLS handshake, whose reads go to the socket past the watched stream: SO_TIMEOUT bounds them. */
        public void handshaking() throws IOException {
            readsBounded = false;
            current.setSoTimeout(millis(timeoutNanos));
        }

        private void applyReadBound() throws IOException {
            if (probing) return;
            boolean tls = current instanceof SSLSocket;
            readsBounded = !tls;
            current.setSoTimeout(tls ? millis(timeoutNanos) : 0);
        }

        private static int millis(long nanos) { return (int) Math.min(Integer.MAX_VALUE, Math.max(1, nanos / 1_000_000)); }

        /** {@code out} with its writes watched. */
        public OutputStream output(OutputStream out) { return new WatchedOutput(out); }

        private void check(long now) {
            if (tcp.isClosed()) {
                WATCHED.remove(this);
                return;
            }
            long bound = timeoutNanos;
            long writing = writingSince;
            if (writing != IDLE && now - writing > bound) {
                abort();
                return;
            }
            long reading = readingSince;
            if (readsBounded && !readExpired && reading != IDLE && now - reading > bound) expireRead();
        }

        private void expireRead() {
            readExpired = true;
            try {
                tcp.shutdownInput();
            } catch (IOException e) {
                abort(); // no input to shut: closing ends the read too
            }
        }

        private void abort() {
            WATCHED.remove(this);
            try {
                tcp.close();
            } catch (IOException ignored) {
                // the operation that was stuck fails either way
            }
        }

        private static SocketTimeoutException timedOut() { return new SocketTimeoutException("read timed out"); }

        private final class WatchedInput extends InputStream {
            private final InputStream in;

            WatchedInput(InputStream in) { this.in = in; }

            @Override public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override public int read(byte[] b, int off, int len) throws IOException {
                if (readExpired) throw timedOut();
                int n;
                readingSince = System.nanoTime();
                try {
                    n = in.read(b, off, len);
                } catch (IOException e) {
                    if (readExpired) throw timedOut();
                    throw e;
                } finally {
                    readingSince = IDLE;
                }
                if (n < 0 && readExpired) throw timedOut();
                return n;
            }

            @Override public int available() throws IOException { return readExpired ? 0 : in.available(); }

            @Override public void close() throws IOException { in.close(); }
        }

        private final class WatchedOutput extends OutputStream {
            private final OutputStream out;

            WatchedOutput(OutputStream out) { this.out = out; }

            @Override public void write(int b) throws IOException { write(new byte[] {(byte) b}, 0, 1); }

            @Override public void write(byte[] b, int off, int len) throws IOException {
                writingSince = System.nanoTime();
                try {
                    out.write(b, off, len);
                } finally {
                    writingSince = IDLE;
                }
            }

            @Override public void flush() throws IOException {
                writingSince = System.nanoTime();
                try {
                    out.flush();
                } finally {
                    writingSince = IDLE;
                }
            }

            @Override public void close() throws IOException { out.close(); }
        }
    }
}
