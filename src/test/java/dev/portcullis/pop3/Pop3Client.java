package dev.portcullis.pop3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * A raw POP3 client for protocol tests over real sockets: it writes exactly the bytes it is given (several
 * commands in one write when the test wants that) and keeps its own read buffer, so it can tell that no
 * plaintext byte is left unread when it starts TLS, and that nothing at all arrived.
 */
final class Pop3Client implements AutoCloseable {
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final byte[] buf = new byte[65536];
    private int pos, limit;
    private final StringBuilder transcript = new StringBuilder();

    private Pop3Client(Socket socket) throws IOException {
        setSocket(socket);
        socket.setSoTimeout(10_000);
    }

    /** Connects in clear and reads the greeting, which must be +OK. */
    static Pop3Client open(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return greeted(new Pop3Client(s));
    }

    /** Connects with implicit TLS (pop3s) and reads the greeting. */
    static Pop3Client openTls(int port, SSLSocketFactory factory) throws IOException {
        SSLSocket s = (SSLSocket) factory.createSocket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.startHandshake();
        return greeted(new Pop3Client(s));
    }

    private static Pop3Client greeted(Pop3Client c) throws IOException {
        String greeting = c.line();
        if (greeting == null || !greeting.startsWith("+OK")) {
            c.close();
            throw new AssertionError("greeting: " + greeting);
        }
        return c;
    }

    private void setSocket(Socket s) throws IOException {
        socket = s;
        in = s.getInputStream();
        out = s.getOutputStream();
    }

    Socket socket() { return socket; }

    void send(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    String command(String line) throws IOException {
        send(line + "\r\n");
        String r = line();
        if (r == null) throw new AssertionError("connection closed after " + line + "; transcript:\n" + transcript);
        return r;
    }

    /** Sends a command that must be answered +OK with a multi-line reply; returns the lines, un-stuffed. */
    List<String> multiline(String command) throws IOException {
        String first = command(command);
        if (!first.startsWith("+OK")) throw new AssertionError(command + " -> " + first);
        List<String> lines = new ArrayList<>();
        for (String l = line(); !".".equals(l); l = line()) {
            if (l == null) throw new AssertionError("closed inside a multi-line reply; transcript:\n" + transcript);
            lines.add(l.startsWith(".") ? l.substring(1) : l);
        }
        return lines;
    }

    /** Logs in with USER/PASS; the reply to PASS must be +OK. */
    Pop3Client login(String user, String password) throws IOException {
        String u = command("USER " + user);
        if (!u.startsWith("+OK")) throw new AssertionError("USER -> " + u);
        String p = command("PASS " + password);
        if (!p.startsWith("+OK")) throw new AssertionError("PASS -> " + p);
        return this;
    }

    /** One line without CRLF, or null at end of stream. */
    String line() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            if (pos == limit) {
                int n = in.read(buf, 0, buf.length);
                if (n < 0) return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
                pos = 0;
                limit = n;
            }
            byte b = buf[pos++];
            if (b == '\n') {
                String s = line.toString(StandardCharsets.UTF_8);
                if (s.endsWith("\r")) s = s.substring(0, s.length() - 1);
                transcript.append(s).append('\n');
                return s;
            }
            line.write(b);
        }
    }

    /** Whatever arrives within {@code window} (empty when nothing does). */
    String readAvailableFor(Duration window) throws IOException {
        StringBuilder sb = new StringBuilder(new String(buf, pos, limit - pos, StandardCharsets.UTF_8));
        pos = limit = 0;
        int old = socket.getSoTimeout();
        socket.setSoTimeout((int) window.toMillis());
        try {
            int n = in.read(buf);
            if (n > 0) sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        } catch (SocketTimeoutException quiet) {
            // nothing came
        } finally {
            socket.setSoTimeout(old);
        }
        return sb.toString();
    }

    /** The client side of STLS's handshake; fails if plaintext is still unread (a reply sent outside TLS). */
    void startTls(SSLSocketFactory factory) throws IOException {
        if (pos < limit) throw new AssertionError("plaintext left unread before TLS: " + new String(buf, pos, limit - pos, StandardCharsets.UTF_8));
        SSLSocket tls = (SSLSocket) factory.createSocket(socket, "127.0.0.1", socket.getPort(), true);
        tls.setUseClientMode(true);
        tls.startHandshake();
        setSocket(tls);
    }

    /** True when the server closes the connection within {@code within}. */
    boolean closedWithin(Duration within) throws IOException {
        int old = socket.getSoTimeout();
        socket.setSoTimeout((int) within.toMillis());
        try {
            while (true) {
                if (pos < limit) { pos = limit; continue; }
                int n = in.read(buf);
                if (n < 0) return true;
                pos = 0;
                limit = n;
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        } finally {
            if (!socket.isClosed()) socket.setSoTimeout(old);
        }
    }

    /** Ends the connection abruptly (TCP reset), as a crashed client or a dropped link would. */
    void kill() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    String transcript() { return transcript.toString(); }

    @Override public void close() throws IOException { socket.close(); }
}
