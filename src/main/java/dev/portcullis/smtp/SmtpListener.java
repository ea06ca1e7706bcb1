package dev.portcullis.smtp;

import dev.portcullis.config.Config;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts connections on one address and port and gives each its own virtual thread: thousands of idle or
 * tarpitted clients cost a few kilobytes each. The listener only moves bytes; the session does SMTP.
 * On the implicit-TLS role (submissions, RFC 8314) the handshake happens before the session starts.
 */
public final class SmtpListener implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("portcullis.smtp");
    private static final AtomicLong SESSIONS = new AtomicLong();

    private final Config.Listener config;
    private final SmtpService service;
    private final ServerTls tls;
    private final ServerSocket server;
    private final Thread acceptor;
    private final String sessionPrefix;
    /** Live connections, so that close() can end them before the services they use go away. */
    private final java.util.Map<Socket, Thread> live = new java.util.concurrent.ConcurrentHashMap<>();

    public SmtpListener(Config.Listener config, SmtpService service, ServerTls tls) throws IOException {
        this.config = config;
        this.service = service;
        this.tls = tls;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getByName(config.address()), config.port()), 1024);
        this.sessionPrefix = Long.toString(System.currentTimeMillis() / 1000 % 100000, 36).toUpperCase();
        this.acceptor = Thread.ofPlatform().name("smtp-accept-" + port()).daemon().start(this::acceptLoop);
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
            Thread t = Thread.ofVirtual().name("smtp-" + id).unstarted(() -> {
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
            if (config.role().equals("submissions")) {
                socket.setSoTimeout((int) service.limits().commandTimeout().toMillis());
                socket = tls.upgradeServerSide(socket);
            }
            new SmtpSession(service, new SocketTransport(socket, tls), config.role(), id).run();
        } catch (IOException e) {
            LOG.info(() -> "connection session=" + id + " ended before the session started: " + e.getMessage());
            try {
                socket.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    /**
     * Stops accepting, closes every live connection (a client in the middle of a message gets no 250, so
     * nothing is lost: it will retry), and waits a little for the sessions to finish their disconnect hooks.
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
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
        for (Thread t : live.values()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) break;
            try {
                t.join(java.time.Duration.ofNanos(left));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
