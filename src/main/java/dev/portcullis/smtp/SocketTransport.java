package dev.portcullis.smtp;

import dev.portcullis.net.WriteWatchdog;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/** A session's TCP connection, upgraded in place by STARTTLS or from the start on an implicit-TLS port. */
final class SocketTransport implements Transport {
    private Socket socket;
    private final ServerTls tls;
    private InputStream in;
    private WriteWatchdog.Guarded out;
    private long timeoutNanos = java.util.concurrent.TimeUnit.MINUTES.toNanos(5);

    SocketTransport(Socket socket, ServerTls tls) throws IOException {
        this.socket = socket;
        this.tls = tls;
        this.in = socket.getInputStream();
        this.out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

    @Override public InputStream input() { return in; }
    @Override public OutputStream output() { return out; }
    @Override public InetSocketAddress remote() { return (InetSocketAddress) socket.getRemoteSocketAddress(); }
    @Override public InetSocketAddress local() { return (InetSocketAddress) socket.getLocalSocketAddress(); }
    @Override public boolean isTls() { return socket instanceof javax.net.ssl.SSLSocket; }
    @Override public boolean canStartTls() { return tls != null && !isTls(); }

    @Override public void startTls() throws IOException {
        socket = tls.upgradeServerSide(socket);
        in = socket.getInputStream();
        out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

    /** Sets the read timeout and, through the watchdog, the same bound on writes. */
    @Override public void readTimeout(Duration timeout) throws IOException {
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        timeoutNanos = timeout.toNanos();
        out.timeout(timeoutNanos);
    }

    @Override public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing left to tell the client
        }
    }
}
