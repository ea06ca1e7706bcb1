package dev.portcullis.pop3;

import dev.portcullis.net.WriteWatchdog;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;

/** A session's TCP connection, upgraded in place by STLS or from the start on the pop3s role. */
final class SocketConnection implements Connection {
    private Socket socket;
    private final ServerTls tls;
    private InputStream in;
    private WriteWatchdog.Guarded out;
    private long timeoutNanos = TimeUnit.MINUTES.toNanos(10);

    /** @param tls null when STLS is not to be offered (the socket is TLS already, or there is no certificate) */
    SocketConnection(Socket socket, ServerTls tls) throws IOException {
        this.socket = socket;
        this.tls = tls;
        this.in = socket.getInputStream();
        this.out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

    @Override public InputStream input() { return in; }
    @Override public OutputStream output() { return out; }
    @Override public InetAddress remoteAddress() { return socket.getInetAddress(); }
    @Override public boolean isTls() { return socket instanceof SSLSocket; }
    @Override public boolean canStartTls() { return tls != null && !isTls(); }

    @Override public void startTls() throws IOException {
        socket = tls.upgradeServerSide(socket);
        in = socket.getInputStream();
        out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

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
