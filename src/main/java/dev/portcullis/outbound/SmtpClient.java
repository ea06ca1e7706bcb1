package dev.portcullis.outbound;

import dev.portcullis.net.IoWatchdog;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/*
 * One SMTP client connection (RFC 5321) over a plain Socket, upgraded in place by STARTTLS (RFC 3207).
 *
 * Replies are parsed strictly (RFC 5321 4.2): every line is "ddd-text" (continuation) or "ddd text" / "ddd"
 * (last), ends in CRLF, and all lines of a reply share one code whose digits are in range; anything else —
 * a bare LF, a changed code, a line over MAX_LINE octets, more than MAX_LINES lines, end of stream inside a
 * reply — is a ProtocolException (an IOException: the caller turns it into a temporary failure, never a
 * crash and never a permanent one, since we cannot tell what the peer meant).
 *
 * Timeouts (RFC 5321 4.5.3.2): reads and writes are bounded by the timeout the caller sets per phase,
 * kept by the IoWatchdog without a timer per operation (reads under TLS by the socket's SO_TIMEOUT). A
 * write that outlives it closes the socket: a peer that stops reading would otherwise hold a delivery
 * thread forever. The message itself is written under the data timeout, each write bounded on its own
 * (4.5.3.2.5: "each TCP SEND call transmitting a chunk of data").
 *
 * The read buffer is our own, so after the 220 to STARTTLS we can see whether the server sent anything
 * more in plaintext: such bytes could only be an injection attempt and end the connection (RFC 3207 6).
 */
final class SmtpClient implements Closeable {

    static final int MAX_LINE = 4096;   // 512 is the RFC's limit (4.5.3.1.5); be lenient, not unbounded
    static final int MAX_LINES = 200;

    /** A reply we cannot parse, or a peer that broke the protocol. */
    static final class ProtocolException extends IOException {
        ProtocolException(String message) { super(message); }
    }

    private final InetSocketAddress address;
    private final String hostName;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final byte[] buf = new byte[16 * 1024];
    private int pos, limit;
    private boolean tls;
    private boolean esmtp;
    private Map<String, String> extensions = Map.of();

    private final IoWatchdog.Watch watch;

    private SmtpClient(InetSocketAddress address, String hostName, Socket socket, Duration timeout) throws IOException {
        this.address = address;
        this.hostName = hostName;
        this.watch = IoWatchdog.watch(socket, timeout.toNanos());
        use(socket);
    }

    /** Opens a TCP connection (does not read the greeting). */
    static SmtpClient connect(InetSocketAddress address, String hostName, Duration connectTimeout, Duration timeout)
            throws IOException {
        Socket s = new Socket();
        try {
            s.connect(address, (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
            s.setTcpNoDelay(true);
            return new SmtpClient(address, hostName, s, timeout);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void use(Socket s) throws IOException {
        socket = s;
        in = watch.use(s);
        out = new BufferedOutputStream(watch.output(s.getOutputStream()), 64 * 1024);
    }

    /** "mx.example.net[192.0.2.1]:25", for logs and DSNs. */
    String describe() {
        return (isIpLiteral(hostName) ? "" : hostName) + "[" + address.getAddress().getHostAddress() + "]:" + address.getPort();
    }

    /** The remote MTA's name for RFC 3464 Remote-MTA: the host name we connected to. */
    String hostName() { return hostName; }

    boolean isTls() { return tls; }

    boolean isEsmtp() { return esmtp; }

    /** The bound for each read and write from now on (the phase's timeout: command, or data and its reply). */
    void timeout(Duration d) throws IOException {
        watch.timeout(d.toNanos());
    }

    // ---- commands -----------------------------------------------------------------------------------

    Reply greeting() throws IOException { return read(); }

    /** EHLO; on a 250 the extensions are taken from its lines (RFC 5321 4.1.1.1). */
    Reply ehlo(String name) throws IOException {
        Reply r = command("EHLO " + name);
        if (r.positive()) {
            esmtp = true;
            Map<String, String> ext = new LinkedHashMap<>();
            for (int i = 1; i < r.lines().size(); i++) {
                String line = r.lines().get(i).strip();
                if (line.isEmpty()) continue;
                int sp = line.indexOf(' ');
                String keyword = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
                ext.putIfAbsent(keyword, sp < 0 ? "" : line.substring(sp + 1).strip());
            }
            extensions = Map.copyOf(ext);
        }
        return r;
    }

    Reply helo(String name) throws IOException {
        Reply r = command("HELO " + name);
        if (r.positive()) {
            esmtp = false;
            extensions = Map.of();
        }
        return r;
    }

    boolean offers(String keyword) { return extensions.containsKey(keyword); }

    /** The parameters of an EHLO keyword ("" when it has none), or null when not offered. */
    String parameters(String keyword) { return extensions.get(keyword); }

    /**
     * STARTTLS (RFC 3207): on the 220, runs the handshake over this connection and forgets the EHLO answer
     * (4.2: the client must discard knowledge obtained from the server and send EHLO again). Returns the reply;
     * on anything but 220 the connection is unchanged.
     */
    Reply startTls(SSLSocketFactory factory, boolean verifyHostname, Duration handshakeTimeout) throws IOException {
        Reply r = command("STARTTLS");
        if (r.code() != 220) return r;
        if (pos < limit) throw new ProtocolException("plaintext received after the 220 to STARTTLS (injection?)");
        SSLSocket ssl = (SSLSocket) factory.createSocket(socket, hostName, address.getPort(), true);
        SSLParameters params = ssl.getSSLParameters();
        if (!isIpLiteral(hostName)) params.setServerNames(List.of(new SNIHostName(hostName)));
        // RFC 6125 name check against the host we meant to reach (the MX or smarthost name), as HTTPS does.
        if (verifyHostname) params.setEndpointIdentificationAlgorithm("HTTPS");
        params.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        ssl.setSSLParameters(params);
        ssl.setUseClientMode(true);
        ssl.setSoTimeout((int) Math.min(Integer.MAX_VALUE, handshakeTimeout.toMillis()));
        ssl.startHandshake();
        use(ssl);
        tls = true;
        esmtp = false;
        extensions = Map.of();
        return r;
    }

    /** The negotiated protocol and cipher suite, for the log. */
    String tlsDescription() {
        return socket instanceof SSLSocket s ? s.getSession().getProtocol() + " " + s.getSession().getCipherSuite() : "none";
    }

    /** Writes one command line and reads its reply. */
    Reply command(String line) throws IOException {
        send(line);
        flush();
        return read();
    }

    /** Buffers one command line (for PIPELINING, RFC 2920); {@link #flush} sends the batch. */
    void send(String line) throws IOException {
        if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) throw new IllegalArgumentException("CR or LF in a command");
        out.write(line.getBytes(StandardCharsets.UTF_8));
        out.write('\r');
        out.write('\n');
    }

    void flush() throws IOException { out.flush(); }

    /** Streams the message (converted by {@link MessageData}) and the final dot, each write bounded by {@link #timeout}. */
    void sendData(InputStream content) throws IOException {
        MessageData.write(content, out);
        out.flush();
    }

    void quit() {
        try {
            timeout(Duration.ofSeconds(5));
            command("QUIT");
        } catch (IOException | RuntimeException ignored) {
            // leaving anyway
        }
    }

    @Override public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    // ---- replies ------------------------------------------------------------------------------------

    /** Reads one whole reply, strictly. */
    Reply read() throws IOException {
        List<String> lines = new ArrayList<>();
        int code = -1;
        while (true) {
            String line = readLine();
            if (line == null) {
                if (lines.isEmpty()) throw new EOFException("connection closed by " + describe());
                throw new ProtocolException("connection closed inside a multi-line reply");
            }
            if (line.length() < 3 || !validCode(line)) throw new ProtocolException("malformed reply line: " + abbreviate(line));
            int c = Integer.parseInt(line.substring(0, 3));
            if (code >= 0 && c != code) throw new ProtocolException("reply code changed inside a reply: " + code + " then " + c);
            code = c;
            if (line.length() == 3) {
                lines.add("");
                return new Reply(code, lines);
            }
            char sep = line.charAt(3);
            if (sep != ' ' && sep != '-') throw new ProtocolException("malformed reply line: " + abbreviate(line));
            lines.add(line.substring(4));
            if (sep == ' ') return new Reply(code, lines);
            if (lines.size() >= MAX_LINES) throw new ProtocolException("reply of more than " + MAX_LINES + " lines");
        }
    }

    private static boolean validCode(String line) {
        char a = line.charAt(0), b = line.charAt(1), c = line.charAt(2);
        return a >= '2' && a <= '5' && b >= '0' && b <= '5' && c >= '0' && c <= '9';
    }

    /** One CRLF-terminated line without its CRLF; null at end of stream before any byte. */
    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        boolean cr = false;
        while (true) {
            if (pos == limit) {
                int n = in.read(buf, 0, buf.length);
                if (n < 0) {
                    if (line.size() == 0 && !cr) return null;
                    throw new ProtocolException("connection closed inside a reply line");
                }
                pos = 0;
                limit = n;
            }
            byte b = buf[pos++];
            if (cr) {
                if (b != '\n') throw new ProtocolException("bare CR in a reply");
                return line.toString(StandardCharsets.UTF_8); // SMTPUTF8 servers may answer in UTF-8
            }
            if (b == '\r') { cr = true; continue; }
            if (b == '\n') throw new ProtocolException("reply line ends in a bare LF");
            if (line.size() >= MAX_LINE) throw new ProtocolException("reply line longer than " + MAX_LINE + " octets");
            line.write(b);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------

    static boolean isIpLiteral(String host) {
        return dev.portcullis.net.IpLiteral.parse(host) != null;
    }

    private static String abbreviate(String s) {
        String clean = s.replaceAll("[\\x00-\\x1f\\x7f]", "?");
        return clean.length() <= 80 ? clean : clean.substring(0, 80) + "...";
    }
}
