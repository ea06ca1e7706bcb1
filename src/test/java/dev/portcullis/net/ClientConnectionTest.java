package dev.portcullis.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestTls;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Read and write bounds of a client connection on real loopback sockets (the {@link IoWatchdog}). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClientConnectionTest {
    @TempDir Path dir;

    private final ServerSocket server = listen();
    private final List<Socket> sockets = new ArrayList<>();

    private static ServerSocket listen() {
        try {
            return new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterEach
    void close() throws IOException {
        for (Socket s : sockets) s.close();
        server.close();
    }

    private static final class Connection extends ClientConnection {
        Connection(Socket socket, ServerTls tls) throws IOException { super(socket, tls, Duration.ofMinutes(5)); }
    }

    /** A connected pair: [0] the client's end, [1] the accepted end. */
    private Socket[] pair() throws IOException {
        Socket client = new Socket(server.getInetAddress(), server.getLocalPort());
        client.setSoTimeout(10_000);
        Socket accepted = server.accept();
        sockets.add(client);
        sockets.add(accepted);
        return new Socket[] {client, accepted};
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int c; (c = in.read()) >= 0 && c != '\n'; ) line.append((char) c);
        return line.toString().strip();
    }

    @Test
    void aReadThatWaitsTooLongTimesOutAndTheLastReplyStillReachesTheClient() throws Exception {
        Socket[] p = pair();
        Connection c = new Connection(p[1], null);
        c.readTimeout(Duration.ofSeconds(1));
        long start = System.nanoTime();
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited >= 950, "timed out after " + waited + " ms, before its 1 s");
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]), "the input stays ended");
        c.output().write("421 4.4.2 timeout\r\n".getBytes(StandardCharsets.US_ASCII));
        c.output().flush();
        assertEquals("421 4.4.2 timeout", readLine(p[0].getInputStream()));
        c.close();
        assertEquals(-1, p[0].getInputStream().read());
    }

    @Test
    void aPlainConnectionsReadsAreNotTimedByTheSocket() throws Exception {
        // SO_TIMEOUT would make every read of a virtual thread a timer in the JDK's scheduler (see IoWatchdog)
        Socket[] p = pair();
        Connection c = new Connection(p[1], null);
        c.readTimeout(Duration.ofSeconds(7));
        assertEquals(0, p[1].getSoTimeout());
        p[0].getOutputStream().write("EHLO a\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("EHLO a", readLine(c.input()));
    }

    @Test
    void aReadThatIsAnsweredInTimeIsNotEnded() throws Exception {
        Socket[] p = pair();
        Connection c = new Connection(p[1], null);
        c.readTimeout(Duration.ofSeconds(1));
        OutputStream client = p[0].getOutputStream();
        for (int i = 0; i < 6; i++) { // 3 s in all, each wait half the bound
            Thread.sleep(500);
            client.write(("NOOP " + i + "\r\n").getBytes(StandardCharsets.US_ASCII));
            assertEquals("NOOP " + i, readLine(c.input()));
        }
    }

    @Test
    void aProbeTimesOutAndLeavesTheConnectionUsable() throws Exception {
        Socket[] p = pair();
        Connection c = new Connection(p[1], null);
        c.readTimeout(Duration.ofSeconds(1));
        c.probeTimeout(Duration.ofMillis(300));
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]));
        c.probeTimeout(Duration.ZERO);
        assertEquals(0, p[1].getSoTimeout(), "back to the watchdog's bound");
        p[0].getOutputStream().write("EHLO late\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("EHLO late", readLine(c.input()));
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]), "and the bound is kept again");
    }

    @Test
    void aProbeLongerThanTheReadTimeoutIsNotCutShort() throws Exception {
        Socket[] p = pair();
        Connection c = new Connection(p[1], null);
        c.readTimeout(Duration.ofMillis(500));
        c.probeTimeout(Duration.ofSeconds(2));
        long start = System.nanoTime();
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited >= 1900, "the probe waited " + waited + " ms of its 2 s");
        c.probeTimeout(Duration.ZERO);
        p[0].getOutputStream().write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("QUIT", readLine(c.input()));
    }

    @Test
    void underTlsTheSocketTimesTheReads() throws Exception {
        ServerTls tls = ServerTls.selfSigned(dir, "mx.test");
        Socket[] p = pair();
        Connection c = new Connection(p[1], tls);
        c.readTimeout(Duration.ofSeconds(1));
        Thread handshake = Thread.ofVirtual().start(() -> {
            try {
                c.startTls();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        SSLSocket client = (SSLSocket) TestTls.trustAll().createSocket(p[0], "mx.test", p[0].getPort(), true);
        client.startHandshake();
        handshake.join();
        assertTrue(c.isTls());
        assertEquals(1000, p[1].getSoTimeout());
        assertThrows(SocketTimeoutException.class, () -> c.input().read(new byte[100]));
        c.output().write("421 4.4.2 timeout\r\n".getBytes(StandardCharsets.US_ASCII));
        c.output().flush();
        assertEquals("421 4.4.2 timeout", readLine(client.getInputStream()));
    }

    @Test
    void aClosedConnectionIsNoLongerWatched() throws Exception {
        List<Connection> open = new ArrayList<>();
        for (int i = 0; i < 20; i++) open.add(new Connection(pair()[1], null));
        assertTrue(IoWatchdog.watched() >= 20);
        int withThem = IoWatchdog.watched();
        for (Connection c : open) c.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (IoWatchdog.watched() > withThem - 20 && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(IoWatchdog.watched() <= withThem - 20, "still watched: " + IoWatchdog.watched());
    }
}
