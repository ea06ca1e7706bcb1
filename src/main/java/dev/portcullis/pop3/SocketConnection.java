package dev.portcullis.pop3;

import dev.portcullis.net.ClientConnection;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;

/** A session's TCP connection, upgraded in place by STLS or from the start on the pop3s role. */
final class SocketConnection extends ClientConnection implements Connection {
    /** @param tls null when STLS is not to be offered (the socket is TLS already, or there is no certificate) */
    SocketConnection(Socket socket, ServerTls tls) throws IOException {
        super(socket, tls, Duration.ofMinutes(10));
    }

    @Override public InetAddress remoteAddress() { return remote().getAddress(); }
}
