package dev.portcullis.smtp;

import dev.portcullis.config.Config;
import dev.portcullis.net.Listener;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;

/**
 * SMTP on a {@link Listener}: every accepted connection gets a {@link SmtpSession} over the socket, with
 * STARTTLS offered on the plain roles. On the implicit-TLS role (submissions, RFC 8314) the handshake happens
 * before the session starts. Closing the listener ends every live session: a client in the middle of a message
 * gets no 250, so nothing is lost: it will retry.
 */
public final class SmtpListener {
    private SmtpListener() {}

    public static Listener open(Config.Listener config, SmtpService service, ServerTls tls) throws IOException {
        boolean implicitTls = config.role().equals("submissions");
        return new Listener("smtp", "", config.address(), config.port(), config.role(), implicitTls ? tls : null,
                service.limits().commandTimeout(),
                new Listener.Busy(config.maxConnections(), "421 4.3.2 " + service.hostname() + " Too many connections, try again later\r\n"),
                (socket, id) -> new SmtpSession(service, new SocketTransport(socket, tls), config.role(), id).run());
    }
}
