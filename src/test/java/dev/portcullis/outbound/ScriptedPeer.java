package dev.portcullis.outbound;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A scripted SMTP peer for what no real server can be made to do on demand: malformed or changing reply
 * codes, a SIZE limit, withholding replies until a pipelined batch is complete. Everything else is tested
 * against smtp-sink and Portcullis itself. Each command line (and "." after message data) is handed to the
 * script, whose answer is sent verbatim (CRLFs included; null: no answer). An answer starting with "354"
 * switches to reading message data up to the ".CRLF" line.
 */
final class ScriptedPeer implements AutoCloseable {
    private final ServerSocket server;
    private final String greeting;
    private final Function<String, String> script;
    private final String holdUntil;
    final List<String> commands = new CopyOnWriteArrayList<>();
    final List<String> messages = new CopyOnWriteArrayList<>();
    final AtomicInteger connections = new AtomicInteger();

    /**
     * @param holdUntil when not null, replies from MAIL on are withheld until a command starting with it arrives
     *                  (a pipelined batch, RFC 2920)
     */
    ScriptedPeer(String greeting, String holdUntil, Function<String, String> script) throws IOException {
        this.server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        this.greeting = greeting;
        this.script = script;
        this.holdUntil = holdUntil;
        Thread.ofVirtual().start(this::accept);
    }

    ScriptedPeer(String greeting, Function<String, String> script) throws IOException {
        this(greeting, null, script);
    }

    int port() { return server.getLocalPort(); }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                connections.incrementAndGet();
                Thread.ofVirtual().start(() -> serve(s));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            out.write(greeting.getBytes(StandardCharsets.UTF_8));
            out.flush();
            StringBuilder held = new StringBuilder();
            boolean holding = false;
            while (true) {
                String line = readLine(in);
                if (line == null) return;
                commands.add(line);
                if (holdUntil != null && line.toUpperCase().startsWith("MAIL")) holding = true;
                String reply = script.apply(line);
                if (reply != null) held.append(reply);
                if (holding && line.toUpperCase().startsWith(holdUntil)) holding = false;
                if (!holding && !held.isEmpty()) {
                    out.write(held.toString().getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    String sent = held.toString();
                    held.setLength(0);
                    if (sent.startsWith("354") || sent.contains("\r\n354")) {
                        StringBuilder data = new StringBuilder();
                        for (String l = readLine(in); l != null && !l.equals("."); l = readLine(in)) data.append(l).append("\r\n");
                        messages.add(data.toString());
                        String end = script.apply(".");
                        if (end != null) {
                            out.write(end.getBytes(StandardCharsets.UTF_8));
                            out.flush();
                        }
                    }
                }
                if (line.equalsIgnoreCase("QUIT")) return;
            }
        } catch (IOException | RuntimeException done) {
            // the client went away
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c >= 0; c = in.read()) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.UTF_8);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
        return null;
    }

    @Override public void close() throws IOException { server.close(); }
}
