package dev.portcullis.plugins.dnsbl;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal SMTP client whose socket is bound to a chosen loopback source address (127.0.0.x), so the
 * server sees a different client IP. Replies are read whole (continuation lines included) and returned as
 * their raw lines, so a test can assert that a reply is exactly one line.
 */
final class BoundClient implements AutoCloseable {
    /** A reply: its code and its raw lines without CRLF. */
    record Reply(int code, List<String> lines) {
        String text() { return String.join("\n", lines); }
        @Override public String toString() { return text(); }
    }

    private final Socket socket;
    private final BufferedReader in;
    private final OutputStream out;

    BoundClient(String sourceIp, int port) throws IOException {
        socket = new Socket();
        try {
            socket.bind(new InetSocketAddress(sourceIp, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(15_000);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
            out = socket.getOutputStream();
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    Reply read() throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = in.readLine();
            if (line == null) throw new EOFException("server closed; got " + lines);
            lines.add(line);
            if (line.length() < 4 || line.charAt(3) != '-') return new Reply(Integer.parseInt(line.substring(0, 3)), List.copyOf(lines));
        }
    }

    Reply command(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return read();
    }

    void send(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    @Override public void close() throws IOException { socket.close(); }
}
