package dev.portcullis.net;

import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts connections on one address and port and gives each its own virtual thread: thousands of idle or
 * tarpitted clients cost a few kilobytes each. The listener only moves bytes; the protocol's handler runs the
 * session. On an implicit-TLS port (RFC 8314: submissions, pop3s) the handshake happens before the handler
 * starts, bounded by the handshake timeout; the session sets its own timeout afterwards.
 *
 * The accept loop runs on a virtual thread too: starting a session from a platform thread hands it to the
 * scheduler from outside and wakes a carrier for every connection; from a virtual thread the new session
 * is queued on the carrier at hand. Measured: about a quarter more connections per second with one message
 * each (bench/compare's "new" rows). Virtual threads are not time-sliced, so the loop must never spin: an
 * accept that fails (out of file descriptors, say) pauses it briefly.
 */
public final class Listener implements AutoCloseable {
    /** Runs one connection's session on its virtual thread; an IOException means the session never started. */
    public interface Handler { void serve(Socket socket, String sessionId) throws IOException; }

    /**
     * At most {@code maxConnections} live connections: one more gets {@code reply} (a whole protocol line, in
     * clear; nothing on an implicit-TLS port, where the client expects a handshake) and is closed. Memory is
     * what a flood of idle connections would exhaust first; a cap turns that into a refusal.
     */
    public record Busy(int maxConnections, String reply) {}

    /** Session numbers, per protocol: with the id prefix they make a session's id in the logs. */
    private static final Map<String, AtomicLong> SESSIONS = new ConcurrentHashMap<>();

    private final String protocol;
    private final Logger log;
    private final ServerTls implicitTls;
    private final Duration handshakeTimeout;
    private final Handler handler;
    private final Busy busy;
    private long refused;            // accept loop only
    private long lastRefusalLogged;  // accept loop only
    private final ServerSocket server;
    private final String sessionPrefix;
    private final AtomicLong sessions;
    /** Live connections, so that close() can end them before the services they use go away. */
    private final Map<Socket, Thread> live = new ConcurrentHashMap<>();

    /**
     * Binds and starts accepting.
     *
     * @param protocol "smtp" or "pop3": names the logger (portcullis.{protocol}) and the threads
     * @param idPrefix put before every session id of this protocol
     * @param role the configured listener role, for the log
     * @param implicitTls the certificate for a handshake straight after accept(), or null on a plain port
     * @param handshakeTimeout the read timeout during that handshake
     * @param busy how many connections the listener holds at most, and what it says to one more
     */
    public Listener(String protocol, String idPrefix, String address, int port, String role, ServerTls implicitTls,
            Duration handshakeTimeout, Busy busy, Handler handler) throws IOException {
        this.protocol = protocol;
        this.busy = busy;
        this.log = Logger.getLogger("portcullis." + protocol);
        this.implicitTls = implicitTls;
        this.handshakeTimeout = handshakeTimeout;
        this.handler = handler;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getByName(address), port), 1024);
        this.sessionPrefix = idPrefix + Long.toString(System.currentTimeMillis() / 1000 % 100000, 36).toUpperCase();
        this.sessions = SESSIONS.computeIfAbsent(protocol, p -> new AtomicLong());
        Thread.ofVirtual().name(protocol + "-accept-" + port()).start(this::acceptLoop);
        log.info(() -> "listening on " + address + ":" + port() + " role=" + role);
    }

    public int port() { return server.getLocalPort(); }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!server.isClosed()) {
                    log.log(Level.WARNING, "accept failed on port " + port() + ", pausing 100 ms", e);
                    pause();
                }
                continue;
            }
            try {
                if (live.size() >= busy.maxConnections()) {
                    refuse(socket);
                    continue;
                }
                String id = sessionPrefix + Long.toString(sessions.incrementAndGet(), 36).toUpperCase();
                Thread t = Thread.ofVirtual().name(protocol + "-" + id).unstarted(() -> {
                    try {
                        serve(socket, id);
                    } finally {
                        live.remove(socket);
                    }
                });
                live.put(socket, t);
                t.start();
            } catch (RuntimeException | Error e) {
                // Out of memory or threads: this connection is lost, the listener must not be. A dead accept
                // loop would leave the port open and every later client unanswered.
                live.remove(socket);
                closeQuietly(socket);
                log.log(Level.SEVERE, "could not start a session on port " + port() + ": " + e, e);
                pause();
            }
        }
    }

    private void refuse(Socket socket) {
        // A flood at the cap must not become a flood in the log: one line per 10 s at most, with a count.
        refused++;
        long now = System.nanoTime();
        if (refused == 1 || now - lastRefusalLogged >= TimeUnit.SECONDS.toNanos(10)) {
            long count = refused;
            log.warning(() -> protocol + " connection from " + socket.getInetAddress().getHostAddress() + " refused: "
                    + busy.maxConnections() + " connections already (max_connections); " + count + " refused so far");
            lastRefusalLogged = now;
        }
        if (implicitTls == null) {
            try {
                socket.setSoTimeout(1000);
                // A fresh socket's send buffer is empty: this short write does not block the accept loop.
                socket.getOutputStream().write(busy.reply().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            } catch (IOException ignored) {
                // it is being closed anyway
            }
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void serve(Socket socket, String id) {
        try {
            socket.setTcpNoDelay(true);
            if (implicitTls != null) {
                socket.setSoTimeout((int) handshakeTimeout.toMillis());
                socket = implicitTls.upgradeServerSide(socket);
            }
            handler.serve(socket, id);
        } catch (IOException e) {
            log.info(() -> protocol + " connection session=" + id + " ended before the session started: " + e.getMessage());
            try {
                socket.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    /**
     * Stops accepting, closes every live connection, and waits a little for the sessions to finish what they
     * do on the way out (SMTP's disconnect hooks, POP3's UPDATE). What that means for the client is the
     * protocol's to say.
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
