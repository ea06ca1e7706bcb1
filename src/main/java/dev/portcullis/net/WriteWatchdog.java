package dev.portcullis.net;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounds writes, which Java sockets cannot: SO_TIMEOUT covers reads only, so a client that pipelines SMTP
 * commands (or asks for a large POP3 RETR) and never reads our replies would block its session in write()
 * forever once the buffers fill (RFC 5321 4.5.3.2 timeouts apply to both directions; Postfix's smtpd_timeout
 * covers writes too). Shared by every protocol listener.
 * One daemon thread looks at every connection that is in the middle of a write, twice a second, and
 * closes those stuck for longer than their timeout; the blocked write then fails and the session ends.
 */
public final class WriteWatchdog {
    private static final Set<Guarded> WRITING = ConcurrentHashMap.newKeySet();

    static {
        Thread.ofPlatform().daemon().name("write-watchdog").start(() -> {
            while (true) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime();
                for (Guarded g : WRITING) if (now - g.since > g.timeoutNanos) g.abort();
            }
        });
    }

    private WriteWatchdog() {}

    /** An output stream whose writes give up (by closing the socket) after {@code timeoutNanos}. */
    public static final class Guarded extends OutputStream {
        private final OutputStream out;
        private final Socket socket;
        private volatile long timeoutNanos;
        private volatile long since;

        public Guarded(OutputStream out, Socket socket, long timeoutNanos) {
            this.out = out;
            this.socket = socket;
            this.timeoutNanos = timeoutNanos;
        }

        /** A new bound for the writes to come (sessions switch between command and data timeouts). */
        public void timeout(long nanos) { timeoutNanos = nanos; }

        @Override public void write(int b) throws IOException { write(new byte[] {(byte) b}, 0, 1); }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            since = System.nanoTime();
            WRITING.add(this);
            try {
                out.write(b, off, len);
            } finally {
                WRITING.remove(this);
            }
        }

        @Override public void flush() throws IOException {
            since = System.nanoTime();
            WRITING.add(this);
            try {
                out.flush();
            } finally {
                WRITING.remove(this);
            }
        }

        @Override public void close() throws IOException { out.close(); }

        private void abort() {
            WRITING.remove(this);
            try {
                socket.close();
            } catch (IOException ignored) {
                // the write that was stuck fails either way
            }
        }
    }
}
