package dev.portcullis.net;

import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import javax.net.ssl.SSLSocket;

/**
 * An accepted client's TCP connection as a protocol session sees it: upgraded to TLS in place (STARTTLS,
 * STLS) or from the start on an implicit-TLS port, reads bounded by the socket's read timeout and writes by
 * the {@link WriteWatchdog}. Each protocol subclasses it only to present it through its own interface (SMTP's
 * Transport, POP3's Connection), which its tests implement in memory.
 */
public abstract class ClientConnection {
    private Socket socket;
    private final ServerTls tls;
    private InputStream in;
    private WriteWatchdog.Guarded out;
    private long timeoutNanos;

    /**
     * @param tls null when TLS is not to be offered (there is no certificate)
     * @param writeTimeout the bound on writes until the session sets its own with {@link #readTimeout}
     */
    protected ClientConnection(Socket socket, ServerTls tls, Duration writeTimeout) throws IOException {
        this.socket = socket;
        this.tls = tls;
        this.timeoutNanos = writeTimeout.toNanos();
        this.in = socket.getInputStream();
        this.out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

    public InputStream input() { return in; }

    public OutputStream output() { return out; }

    public InetSocketAddress remote() { return (InetSocketAddress) socket.getRemoteSocketAddress(); }

    public InetSocketAddress local() { return (InetSocketAddress) socket.getLocalSocketAddress(); }

    public boolean isTls() { return socket instanceof SSLSocket; }

    public boolean canStartTls() { return tls != null && !isTls(); }

    /** Performs the server side of a TLS handshake; afterwards input() and output() are the encrypted streams. */
    public void startTls() throws IOException {
        socket = tls.upgradeServerSide(socket);
        in = socket.getInputStream();
        out = new WriteWatchdog.Guarded(socket.getOutputStream(), socket, timeoutNanos);
    }

    /** Sets the read timeout and, through the watchdog, the same bound on writes. */
    public void readTimeout(Duration timeout) throws IOException {
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        timeoutNanos = timeout.toNanos();
        out.timeout(timeoutNanos);
    }

    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing left to tell the client
        }
    }
}
