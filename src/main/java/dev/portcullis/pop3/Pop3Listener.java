package dev.portcullis.pop3;

import dev.portcullis.config.Config;
import dev.portcullis.net.Listener;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.util.Set;

/**
 * POP3 on a {@link Listener}: every accepted connection gets a {@link Pop3Session} over the socket. Role
 * {@code pop3} (port 110) offers STLS (RFC 2595); role {@code pop3s} (port 995) is implicit TLS (RFC 8314): the
 * handshake happens before the greeting. Closing the listener ends every live session: one in TRANSACTION ends
 * without UPDATE, so a shutdown deletes nothing; one already in UPDATE finishes it (file renames do not need
 * the socket), and close() waits a little for that.
 */
public final class Pop3Listener {
    /** The listener roles this class serves (the others are SMTP's). */
    public static final Set<String> ROLES = Set.of("pop3", "pop3s");

    private Pop3Listener() {}

    public static Listener open(Config.Listener config, Pop3Service service, ServerTls tls) throws IOException {
        if (!ROLES.contains(config.role())) throw new IllegalArgumentException("not a POP3 role: " + config.role());
        boolean implicitTls = config.role().equals("pop3s");
        return new Listener("pop3", "P", config.address(), config.port(), config.role(), implicitTls ? tls : null,
                Pop3Session.handshakeTimeout(service.settings()),
                new Listener.Busy(config.maxConnections(), "-ERR [SYS/TEMP] too many connections, try again later\r\n"),
                (socket, id) -> new Pop3Session(service, new SocketConnection(socket, tls), id).run());
    }
}
