package dev.portcullis.testkit;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * A raw SMTP client for protocol-level tests: it writes exactly the bytes it is given (several commands in
 * one write, broken line endings, whatever the test needs) and parses replies strictly (RFC 5321 4.2:
 * {@code ddd-text} continuation lines, then {@code ddd text}). Its read buffer is its own, so a test can
 * assert that nothing at all arrived ({@link #readAvailableFor}) or that no plaintext byte is left over when
 * it starts TLS. It can connect from any 127.x.y.z source address ({@link #connectFrom}), so one test can play
 * several clients, and leave politely ({@link #quit}) or abruptly ({@link #kill}).
 */
public final class SmtpScript implements AutoCloseable {

    private static final Pattern LINE = Pattern.compile("(\\d{3})([ -])(.*)", Pattern.DOTALL);
    private static final Pattern ENHANCED = Pattern.compile("([245]\\.\\d{1,3}\\.\\d{1,3})(?: |$)");
    private static final Pattern QUEUED = Pattern.compile("queued as ([A-Za-z0-9]+)");
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    /** One reply: its code and the text of each line (without code, separator and CRLF). */
    public record Reply(int code, List<String> lines) {
        public String text() { return lines.getFirst(); }

        public boolean is(int expected, String enhanced) {
            return code == expected && (enhanced == null || enhanced.equals(enhanced()));
        }

        /** The enhanced status code (RFC 3463) that starts the first line, such as "5.7.1", or null. */
        public String enhanced() {
            Matcher m = ENHANCED.matcher(text());
            return m.lookingAt() ? m.group(1) : null;
        }

        /** The lines as the server sent them, code and separator included, CRLF left off. */
        public List<String> rawLines() {
            List<String> raw = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) raw.add(code + (i == lines.size() - 1 ? " " : "-") + lines.get(i));
            return List.copyOf(raw);
        }

        /** The queue id of a {@code 250 ... queued as <id>} reply, or null. */
        public String queueId() {
            Matcher m = QUEUED.matcher(text());
            return code == 250 && m.find() ? m.group(1) : null;
        }

        @Override public String toString() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < lines.size(); i++)
                sb.append(code).append(i == lines.size() - 1 ? ' ' : '-').append(lines.get(i)).append("\\r\\n");
            return sb.toString();
        }
    }

    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final byte[] buf = new byte[65536];
    private int pos, limit;
    private boolean eof;
    /** Everything received, for failure messages. */
    private final StringBuilder transcript = new StringBuilder();

    private SmtpScript(Socket socket) throws IOException {
        setSocket(socket);
    }

    public static SmtpScript connect(int port) throws IOException { return connect(port, DEFAULT_TIMEOUT); }

    public static SmtpScript connect(int port, Duration readTimeout) throws IOException {
        return connect("127.0.0.1", port, readTimeout);
    }

    /** @param host a loopback address: "127.0.0.1", "::1", ... */
    public static SmtpScript connect(String host, int port, Duration readTimeout) throws IOException {
        return connectFrom(null, host, port, readTimeout);
    }

    /**
     * Connects from a chosen source address: the whole of 127.0.0.0/8 is local, so 127.0.0.2, 127.0.0.3, ...
     * are different clients to the server (a listed one, one without rDNS, ...). Does not read the greeting.
     */
    public static SmtpScript connectFrom(String source, String host, int port, Duration readTimeout) throws IOException {
        Socket s = new Socket();
        try {
            if (source != null) s.bind(new InetSocketAddress(source, 0));
            s.connect(new InetSocketAddress(host, port), 5000);
            s.setSoTimeout((int) readTimeout.toMillis());
            s.setTcpNoDelay(true);
            return new SmtpScript(s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Connects from {@code source} (see {@link #connectFrom}) to 127.0.0.1; does not read the greeting. */
    public static SmtpScript connectFrom(String source, int port) throws IOException {
        return connectFrom(source, "127.0.0.1", port, DEFAULT_TIMEOUT);
    }

    /** Connects and reads the greeting, which must be a 220. */
    public static SmtpScript open(int port) throws IOException { return open("127.0.0.1", port); }

    /** Connects from {@code source} (see {@link #connectFrom}) and reads the greeting, which must be a 220. */
    public static SmtpScript openFrom(String source, int port) throws IOException {
        SmtpScript s = connectFrom(source, "127.0.0.1", port, DEFAULT_TIMEOUT);
        try {
            s.expect(220, null);
            return s;
        } catch (IOException | RuntimeException | AssertionError e) {
            s.close();
            throw e;
        }
    }

    /**
     * Connects from {@code source} (see {@link #connectFrom}), reads the 220 greeting and says
     * {@code EHLO ehloName}, which must be answered 250.
     */
    public static SmtpScript openFrom(String source, int port, String ehloName) throws IOException {
        SmtpScript s = openFrom(source, port);
        try {
            s.command("EHLO " + ehloName, 250, null);
            return s;
        } catch (IOException | RuntimeException | AssertionError e) {
            s.close();
            throw e;
        }
    }

    public static SmtpScript open(String host, int port) throws IOException {
        SmtpScript s = connect(host, port, DEFAULT_TIMEOUT);
        try {
            s.expect(220, null);
            return s;
        } catch (IOException | RuntimeException | AssertionError e) {
            s.close();
            throw e;
        }
    }

    private void setSocket(Socket s) throws IOException {
        this.socket = s;
        this.in = s.getInputStream();
        this.out = s.getOutputStream();
    }

    public Socket socket() { return socket; }

    public void readTimeout(Duration d) throws IOException { socket.setSoTimeout((int) d.toMillis()); }

    // ---- writing ----------------------------------------------------------------------------------

    /** Writes the string's characters as bytes (ISO-8859-1: one char, one byte), in one write. */
    public SmtpScript send(String raw) throws IOException { return send(raw.getBytes(StandardCharsets.ISO_8859_1)); }

    public SmtpScript send(byte[] raw) throws IOException {
        out.write(raw);
        out.flush();
        return this;
    }

    /** Sends {@code line} + CRLF and reads one reply. */
    public Reply command(String line) throws IOException {
        send(line + "\r\n");
        return readReply();
    }

    /** Sends {@code line} + CRLF and asserts the reply's code (and enhanced code when not null). */
    public Reply command(String line, int code, String enhanced) throws IOException {
        send(line + "\r\n");
        return expect(code, enhanced);
    }

    /** Sends DATA (which must be answered 354), then {@code message} and the end-of-data line; returns the reply to the message. */
    public Reply data(String message) throws IOException {
        command("DATA", 354, null);
        return command(message + "\r\n.");
    }

    /**
     * QUIT (which must be answered 221), then waits until the server closes the connection: it does so after
     * its disconnect hooks have run, so the next session sees what this one left behind.
     */
    public void quit() throws IOException {
        command("QUIT", 221, null);
        expectEof(DEFAULT_TIMEOUT);
    }

    // ---- reading ----------------------------------------------------------------------------------

    /** Reads one reply; fails on end of stream or on anything that is not a well-formed reply. */
    public Reply readReply() throws IOException {
        Reply r = readReplyOrNull();
        if (r == null) throw new EOFException("connection closed by the server; received so far:\n" + transcript);
        return r;
    }

    /** Reads one reply, or returns null when the server closed the connection before its first byte. */
    public Reply readReplyOrNull() throws IOException {
        List<String> lines = new ArrayList<>();
        int code = -1;
        while (true) {
            String line = readLine();
            if (line == null) {
                if (lines.isEmpty()) return null;
                throw new EOFException("connection closed in the middle of a reply; received so far:\n" + transcript);
            }
            Matcher m = LINE.matcher(line);
            if (!m.matches()) throw new AssertionError("malformed reply line \"" + line + "\"; received so far:\n" + transcript);
            int c = Integer.parseInt(m.group(1));
            if (code >= 0 && c != code)
                throw new AssertionError("reply code changed inside a multi-line reply (" + code + " then " + c + "):\n" + transcript);
            code = c;
            lines.add(m.group(3));
            if (m.group(2).equals(" ")) return new Reply(code, List.copyOf(lines));
        }
    }

    /** Reads one reply and asserts its code (and its enhanced status code, when not null). */
    public Reply expect(int code, String enhanced) throws IOException {
        Reply r = readReply();
        if (!r.is(code, enhanced))
            throw new AssertionError("expected " + code + (enhanced == null ? "" : " " + enhanced) + " but got " + r
                    + "\nreceived so far:\n" + transcript);
        return r;
    }

    /** One line without its CRLF, or null at end of stream. A line must end in CRLF: a bare LF fails. */
    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            if (pos == limit && !fill()) {
                if (line.size() == 0) return null;
                throw new EOFException("connection closed in the middle of a line: " + line.toString(StandardCharsets.ISO_8859_1));
            }
            byte b = buf[pos++];
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                String s = new String(bytes, StandardCharsets.UTF_8);
                if (bytes.length == 0 || bytes[bytes.length - 1] != '\r')
                    throw new AssertionError("reply line not terminated by CRLF: \"" + s + "\"");
                return s.substring(0, s.length() - 1);
            }
            line.write(b);
        }
    }

    private boolean fill() throws IOException {
        if (eof) return false;
        int n = in.read(buf, 0, buf.length);
        if (n < 0) {
            eof = true;
            return false;
        }
        pos = 0;
        limit = n;
        transcript.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        return true;
    }

    /**
     * Waits {@code window} and returns whatever arrived meanwhile (buffered bytes included): "" when the
     * server said nothing. End of stream ends the wait early (see {@link #isEof()}).
     */
    public String readAvailableFor(Duration window) throws IOException {
        StringBuilder got = new StringBuilder();
        if (pos < limit) {
            got.append(new String(buf, pos, limit - pos, StandardCharsets.ISO_8859_1));
            pos = limit;
        }
        int old = socket.getSoTimeout();
        long deadline = System.nanoTime() + window.toNanos();
        try {
            while (!eof) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) break;
                socket.setSoTimeout((int) Math.max(1, left));
                try {
                    if (!fill()) break;
                } catch (SocketTimeoutException e) {
                    break;
                }
                got.append(new String(buf, pos, limit - pos, StandardCharsets.ISO_8859_1));
                pos = limit;
            }
        } finally {
            if (!socket.isClosed()) socket.setSoTimeout(old);
        }
        return got.toString();
    }

    /** True once the server closed its side (a read returned end of stream). */
    public boolean isEof() { return eof; }

    /**
     * Asserts the server closes the connection within {@code within} without sending anything more.
     * A connection reset counts as closed.
     */
    public void expectEof(Duration within) throws IOException {
        if (!closedWithin(within))
            throw new AssertionError("connection still open after " + within + "; received so far:\n" + transcript);
    }

    /**
     * True when the server closes the connection within {@code within} without sending anything more, false
     * when it is still open then; fails if anything arrives. A connection reset counts as closed.
     */
    public boolean closedWithin(Duration within) throws IOException {
        String more;
        try {
            more = readAvailableFor(within);
        } catch (SocketException reset) {
            return true;
        }
        if (!more.isEmpty()) throw new AssertionError("expected the connection to close, but received: " + more);
        return eof;
    }

    /** Bytes read from the socket but not yet consumed as replies. */
    public int buffered() { return limit - pos; }

    public String transcript() { return transcript.toString(); }

    // ---- TLS ----------------------------------------------------------------------------------------

    /**
     * Runs the client side of a TLS handshake over the current connection (after the server's 220 to
     * STARTTLS). Fails if plaintext bytes are still unread: they would be a reply sent outside TLS.
     */
    public SSLSocket startTls(SSLSocketFactory factory) throws IOException {
        if (buffered() > 0)
            throw new AssertionError("plaintext left unread before the TLS handshake: "
                    + new String(buf, pos, limit - pos, StandardCharsets.ISO_8859_1));
        SSLSocket tls = (SSLSocket) factory.createSocket(socket, socket.getInetAddress().getHostAddress(), socket.getPort(), true);
        tls.setUseClientMode(true);
        tls.startHandshake();
        setSocket(tls);
        transcript.append("[TLS ").append(tls.getSession().getProtocol()).append("]\n");
        return tls;
    }

    /** Ends the connection abruptly with a TCP reset (SO_LINGER 0), as a crashed client or a dropped link would. */
    public void kill() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    @Override public void close() throws IOException { socket.close(); }
}
