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
 * STLS) or from the start on an implicit-TLS port, its reads and writes bounded by the {@link IoWatchdog}
 * (reads under TLS by the socket's SO_TIMEOUT). Each protocol subclasses it only to present it through its
 * own interface (SMTP's Transport, POP3's Connection), which its tests implement in memory.
 */
public abstract class ClientConnection {
    private Socket socket;
    private final ServerTls tls;
    private final IoWatchdog.Watch watch;
    private InputStream in;
    private OutputStream out;

    /**
     * @param tls null when TLS is not to be offered (there is no certificate)
     * @param timeout the bound on reads and writes until the session sets its own with {@link #readTimeout}
     */
    protected ClientConnection(Socket socket, ServerTls tls, Duration timeout) throws IOException {
        this.socket = socket;
        this.tls = tls;
        this.watch = IoWatchdog.watch(socket, timeout.toNanos());
        useStreams();
    }

    private void useStreams() throws IOException {
        in = watch.use(socket);
        out = watch.output(socket.getOutputStream());
    }

    public InputStream input() { return in; }

    public OutputStream output() { return out; }

    public InetSocketAddress remote() { return (InetSocketAddress) socket.getRemoteSocketAddress(); }

    public InetSocketAddress local() { return (InetSocketAddress) socket.getLocalSocketAddress(); }

    public boolean isTls() { return socket instanceof SSLSocket; }

    public boolean canStartTls() { return tls != null && !isTls(); }

    /** Performs the server side of a TLS handshake; afterwards input() and output() are the encrypted streams. */
    public void startTls() throws IOException {
        watch.handshaking();
        socket = tls.upgradeServerSide(socket);
        useStreams();
    }

    /**
     * Bounds each read and write from now on. A read that waits longer fails with SocketTimeoutException and
     * the connection takes no more input: what is left is to write a last reply and close.
     */
    public void readTimeout(Duration timeout) throws IOException {
        watch.timeout(timeout.toNanos());
    }

    /**
     * Bounds the reads until called again with {@link Duration#ZERO} by {@code wait} instead, and a read that
     * waits longer fails with SocketTimeoutException but leaves the connection usable: for watching whether a
     * client talks first (earlytalker). A timed read costs a timer in the JDK's scheduler; a probe is one per
     * connection at most.
     */
    public void probeTimeout(Duration wait) throws IOException {
        watch.probe(wait);
    }

    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing left to tell the client
        }
    }
}
