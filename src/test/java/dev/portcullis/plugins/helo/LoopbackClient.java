package dev.portcullis.plugins.helo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A raw SMTP client whose socket is bound to a chosen loopback source address (127.0.0.2, 127.0.0.9, ...),
 * so one test can play several clients. It writes exactly what it is given and reads replies strictly.
 * (The testkit's SmtpScript always connects from 127.0.0.1; the plugin tests of earlytalker, helo and limit
 * share this one.)
 */
public final class LoopbackClient implements AutoCloseable {

    /** One reply: code, enhanced status code (or null) and the text of its last line. */
    public record Reply(int code, String enhanced, String text, List<String> lines) {
        public boolean is(int c, String e) { return code == c && (e == null || e.equals(enhanced)); }

        @Override public String toString() { return code + " " + String.join(" / ", lines); }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final StringBuilder transcript = new StringBuilder();

    private LoopbackClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Connects from {@code from} (a 127.x.y.z address) to 127.0.0.1:{@code port}; reads nothing yet. */
    public static LoopbackClient connect(String from, int port) throws IOException {
        Socket s = new Socket();
        try {
            s.bind(new InetSocketAddress(from, 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.setTcpNoDelay(true);
            return new LoopbackClient(s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Connects and asserts a 220 greeting. */
    public static LoopbackClient open(String from, int port) throws IOException {
        LoopbackClient c = connect(from, port);
        try {
            c.expect(220, null);
            return c;
        } catch (IOException | RuntimeException | AssertionError e) {
            c.close();
            throw e;
        }
    }

    public LoopbackClient send(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return this;
    }

    public Reply command(String line) throws IOException {
        send(line + "\r\n");
        return readReply();
    }

    public Reply command(String line, int code, String enhanced) throws IOException {
        send(line + "\r\n");
        return expect(code, enhanced);
    }

    public Reply expect(int code, String enhanced) throws IOException {
        Reply r = readReply();
        if (r == null) throw new AssertionError("expected " + code + " but the server closed the connection:\n" + transcript);
        if (!r.is(code, enhanced))
            throw new AssertionError("expected " + code + (enhanced == null ? "" : " " + enhanced) + " but got " + r
                    + "\nreceived so far:\n" + transcript);
        return r;
    }

    /** One reply, or null when the connection ends (closed or reset) before it starts. */
    public Reply readReply() throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line;
            try {
                line = readLine();
            } catch (SocketException reset) {
                line = null;
            }
            if (line == null) {
                if (lines.isEmpty()) return null;
                throw new AssertionError("connection closed inside a reply:\n" + transcript);
            }
            if (line.length() < 4 || !line.substring(0, 3).chars().allMatch(Character::isDigit)
                    || (line.charAt(3) != ' ' && line.charAt(3) != '-'))
                throw new AssertionError("malformed reply line \"" + line + "\":\n" + transcript);
            lines.add(line.substring(4));
            if (line.charAt(3) == ' ') {
                int code = Integer.parseInt(line.substring(0, 3));
                String first = lines.getFirst();
                int sp = first.indexOf(' ');
                String maybe = sp < 0 ? first : first.substring(0, sp);
                String enhanced = maybe.matches("[245]\\.\\d{1,3}\\.\\d{1,3}") ? maybe : null;
                return new Reply(code, enhanced, line.substring(4), List.copyOf(lines));
            }
        }
    }

    /** True when the server closes (or resets) the connection within {@code within} without sending anything. */
    public boolean closedWithin(Duration within) throws IOException {
        socket.setSoTimeout((int) within.toMillis());
        try {
            int b = in.read();
            if (b >= 0) throw new AssertionError("expected the connection to close, but received more:\n" + transcript + (char) b);
            return true;
        } catch (SocketTimeoutException stillOpen) {
            return false;
        } catch (SocketException reset) {
            return true;
        } finally {
            if (!socket.isClosed()) socket.setSoTimeout(10_000);
        }
    }

    /** Ends the connection abruptly (TCP reset), as a crashed client or a dropped link would. */
    public void kill() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    public String transcript() { return transcript.toString(); }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (line.size() == 0) return null;
                throw new AssertionError("connection closed inside a line:\n" + transcript + line);
            }
            if (b == '\n') {
                String s = line.toString(StandardCharsets.UTF_8);
                transcript.append(s).append('\n');
                if (!s.endsWith("\r")) throw new AssertionError("reply line without CRLF: " + s);
                return s.substring(0, s.length() - 1);
            }
            line.write(b);
        }
    }

    @Override public void close() throws IOException { socket.close(); }
}
