package dev.portcullis.smtp;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Duration;

/** The bytes under a session: a socket in production, memory in the engine's tests. */
interface Transport extends Closeable {
    InputStream input();
    OutputStream output();
    InetSocketAddress remote();
    InetSocketAddress local();
    boolean isTls();
    boolean canStartTls();
    /** Performs the server side of a TLS handshake; afterwards input() and output() are the encrypted streams. */
    void startTls() throws IOException;
    /**
     * Bounds each read and write from now on; a read that waits longer throws SocketTimeoutException, after
     * which the session only writes its last reply.
     */
    void readTimeout(Duration timeout) throws IOException;
    /**
     * Until called again with {@link Duration#ZERO}, a read waits at most {@code wait} and a read that times
     * out leaves the connection usable (earlytalker's watch for a client that talks first).
     */
    void probeTimeout(Duration wait) throws IOException;
    @Override void close();
}
