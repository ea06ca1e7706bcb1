package dev.portcullis.smtp;

import dev.portcullis.net.ClientConnection;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;

/** A session's TCP connection, upgraded in place by STARTTLS or from the start on an implicit-TLS port. */
final class SocketTransport extends ClientConnection implements Transport {
    SocketTransport(Socket socket, ServerTls tls) throws IOException {
        super(socket, tls, Duration.ofMinutes(5));
    }
}
