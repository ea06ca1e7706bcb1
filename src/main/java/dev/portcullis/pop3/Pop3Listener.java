package dev.portcullis.pop3;

import dev.portcullis.config.Config;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts POP3 connections on one address and port, one virtual thread each; the listener only moves bytes,
 * {@link Pop3Session} speaks POP3. Role {@code pop3} (port 110) offers STLS (RFC 2595); role {@code pop3s}
 * (port 995) is implicit TLS (RFC 8314): the handshake happens before the greeting.
 */
public final class Pop3Listener implements AutoCloseable {
    /** The listener roles this class serves (the others are SMTP's). */
    public static final Set<String> ROLES = Set.of("pop3", "pop3s");

    private static final Logger LOG = Logger.getLogger("portcullis.pop3");
    private static final AtomicLong SESSIONS = new AtomicLong();

    private final Config.Listener config;
    private final Pop3Service service;
    private final ServerTls tls;
    private final ServerSocket server;
    private final String sessionPrefix;
    /** Live connections, so that close() can end them before the services they use go away. */
    private final Map<Socket, Thread> live = new ConcurrentHashMap<>();

    public Pop3Listener(Config.Listener config, Pop3Service service, ServerTls tls) throws IOException {
        if (!ROLES.contains(config.role())) throw new IllegalArgumentException("not a POP3 role: " + config.role());
        this.config = config;
        this.service = service;
        this.tls = tls;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getByName(config.address()), config.port()), 1024);
        this.sessionPrefix = "P" + Long.toString(System.currentTimeMillis() / 1000 % 100000, 36).toUpperCase();
        Thread.ofPlatform().name("pop3-accept-" + port()).daemon().start(this::acceptLoop);
        LOG.info(() -> "listening on " + config.address() + ":" + port() + " role=" + config.role());
    }

    public int port() { return server.getLocalPort(); }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!server.isClosed()) LOG.log(Level.WARNING, "accept failed on port " + port(), e);
                continue;
            }
            String id = sessionPrefix + Long.toString(SESSIONS.incrementAndGet(), 36).toUpperCase();
            Thread t = Thread.ofVirtual().name("pop3-" + id).unstarted(() -> {
                try {
                    serve(socket, id);
                } finally {
                    live.remove(socket);
                }
            });
            live.put(socket, t);
            t.start();
        }
    }

    private void serve(Socket socket, String id) {
        try {
            socket.setTcpNoDelay(true);
            if (config.role().equals("pop3s")) {
                // the session sets its own timeout afterwards
                socket.setSoTimeout((int) Pop3Session.handshakeTimeout(service.settings()).toMillis());
                socket = tls.upgradeServerSide(socket);
            }
            new Pop3Session(service, new SocketConnection(socket, tls), id).run();
        } catch (IOException e) {
            LOG.info(() -> "pop3 connection session=" + id + " ended before the session started: " + e.getMessage());
            try {
                socket.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    /**
     * Stops accepting and closes every live connection. A session in TRANSACTION ends without UPDATE, so a
     * shutdown deletes nothing; one already in UPDATE finishes it (file renames do not need the socket), and
     * close() waits a little for that.
     */
    @Override public void close() throws IOException {
        server.close();
        for (Socket s : live.keySet()) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Thread t : live.values()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) break;
            try {
                t.join(Duration.ofNanos(left));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
