package dev.portcullis.pop3;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.time.Duration;

/** The bytes under a POP3 session: a socket in production, memory in the engine's tests. */
interface Connection extends Closeable {
    InputStream input();

    OutputStream output();

    InetAddress remoteAddress();

    boolean isTls();

    boolean canStartTls();

    /** Performs the server side of a TLS handshake (STLS); afterwards input() and output() are the encrypted streams. */
    void startTls() throws IOException;

    /** The inactivity bound for reads and (through the write watchdog) for writes. */
    void readTimeout(Duration timeout) throws IOException;

    @Override void close();
}
