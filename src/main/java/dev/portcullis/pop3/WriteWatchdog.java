package dev.portcullis.pop3;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounds writes, which Java sockets cannot: SO_TIMEOUT covers reads only, so a client that asks for a large
 * RETR and never reads it would block its session in write() forever (and keep its mailbox locked). One daemon
 * thread looks at every connection in the middle of a write, twice a second, and closes those stuck for longer
 * than their timeout; the blocked write then fails and the session ends without UPDATE.
 *
 * The same mechanism as SMTP's (dev.portcullis.smtp.WriteWatchdog, package-private there); kept apart so the
 * two protocol packages do not reach into each other.
 */
final class WriteWatchdog {
    private static final Set<Guarded> WRITING = ConcurrentHashMap.newKeySet();

    static {
        Thread.ofPlatform().daemon().name("pop3-write-watchdog").start(() -> {
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
    static final class Guarded extends OutputStream {
        private final OutputStream out;
        private final Socket socket;
        volatile long timeoutNanos;
        private volatile long since;

        Guarded(OutputStream out, Socket socket, long timeoutNanos) {
            this.out = out;
            this.socket = socket;
            this.timeoutNanos = timeoutNanos;
        }

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
