package dev.portcullis.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Postfix's smtp-sink as the remote MTA of outbound tests: started on a loopback address and port, with
 * {@code -d} so every transaction it accepts is dumped to a file of its own (X-Mail-Args, X-Rcpt-Args, then
 * the message as received), and stopped (killed) by {@link #stop} / {@link #close}. Running as root it must
 * drop privileges ({@code -u nobody}), so the dump folder is made writable for everyone.
 */
public final class SmtpSink implements AutoCloseable {
    static final String BINARY = "/usr/sbin/smtp-sink";

    /** One dumped transaction. */
    public record Dump(Path file, String mailArgs, List<String> rcptArgs, String heloArgs, String text) {
        /** The message as received: what follows smtp-sink's own X- header lines. */
        public String message() {
            int i = text.indexOf("\nReceived: ");
            return i < 0 ? text : text.substring(i + 1);
        }
    }

    private final String host;
    private final int port;
    private final Path dumps;
    private final List<String> options;
    private Process process;

    public SmtpSink(String host, int port, Path dumps, String... options) {
        this.host = host;
        this.port = port;
        this.dumps = dumps;
        this.options = List.of(options);
    }

    /** A port free on every one of the given loopback addresses (sinks of one test share the MX port). */
    public static int freePort(String... hosts) throws IOException {
        for (int attempt = 0; attempt < 50; attempt++) {
            int candidate;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(hosts[0]))) {
                candidate = s.getLocalPort();
            }
            boolean free = true;
            for (String h : hosts) {
                try (ServerSocket s = new ServerSocket()) {
                    s.setReuseAddress(true);
                    s.bind(new InetSocketAddress(InetAddress.getByName(h), candidate));
                } catch (IOException busy) {
                    free = false;
                    break;
                }
            }
            if (free) return candidate;
        }
        throw new IOException("no port free on all of " + List.of(hosts));
    }

    int port() { return port; }

    public SmtpSink start() throws IOException, InterruptedException {
        if (process != null && process.isAlive()) return this;
        Files.createDirectories(dumps);
        makeWritable(dumps);
        List<String> cmd = new ArrayList<>(List.of(BINARY));
        if ("root".equals(System.getProperty("user.name"))) cmd.addAll(List.of("-u", "nobody"));
        cmd.addAll(List.of("-d", dumps + "/m."));
        cmd.addAll(options);
        cmd.add((host.contains(":") ? "[" + host + "]" : host) + ":" + port);
        cmd.add("64");
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dumps.resolveSibling(dumps.getFileName() + ".log").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            if (!process.isAlive()) throw new IOException("smtp-sink exited: " + cmd + "\n" + log());
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getByName(host), port), 500);
                s.setSoTimeout(2000);
                try (InputStream in = s.getInputStream()) {
                    byte[] b = new byte[3];
                    if (in.readNBytes(b, 0, 3) == 3) {
                        s.getOutputStream().write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                        // Wait for the sink's answer to QUIT: then it has always counted the probe's QUIT,
                        // which quits() takes off as sessions() takes off its session.
                        in.readAllBytes();
                        return this;
                    }
                }
            } catch (IOException notYet) {
                // still starting
            }
            if (System.nanoTime() > deadline) {
                stop();
                throw new IOException("smtp-sink did not start listening on " + host + ":" + port);
            }
            Thread.sleep(50);
        }
    }

    public void stop() throws InterruptedException {
        if (process == null) return;
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        process = null;
    }

    public String log() {
        try {
            return Files.readString(dumps.resolveSibling(dumps.getFileName() + ".log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /**
     * Sessions that ended, from the counters smtp-sink prints with {@code -c} ("sess=N quit=N mesg=N"), less
     * the one {@link #start} opened to see that the sink listens.
     */
    public int sessions() {
        var m = java.util.regex.Pattern.compile("sess=(\\d+)").matcher(log());
        int last = 0;
        while (m.find()) last = Integer.parseInt(m.group(1));
        return Math.max(0, last - 1);
    }

    /** Sessions that ended with the client's QUIT, from the same counters, less the probe's (see start). */
    public int quits() {
        var m = java.util.regex.Pattern.compile("quit=(\\d+)").matcher(log());
        int last = 0;
        while (m.find()) last = Integer.parseInt(m.group(1));
        return Math.max(0, last - 1);
    }

    /** Every transaction dumped so far, oldest first. */
    public List<Dump> dumps() throws IOException {
        if (!Files.isDirectory(dumps)) return List.of();
        List<Path> files;
        try (Stream<Path> s = Files.list(dumps)) {
            files = s.sorted((a, b) -> {
                try {
                    return Files.getLastModifiedTime(a).compareTo(Files.getLastModifiedTime(b));
                } catch (IOException e) {
                    return 0;
                }
            }).toList();
        }
        List<Dump> out = new ArrayList<>();
        for (Path f : files) {
            String text = Files.readString(f, StandardCharsets.ISO_8859_1);
            String mail = null, helo = null;
            List<String> rcpts = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (line.startsWith("X-Mail-Args: ")) mail = line.substring(13);
                else if (line.startsWith("X-Rcpt-Args: ")) rcpts.add(line.substring(13));
                else if (line.startsWith("X-Helo-Args: ")) helo = line.substring(13);
                else if (line.startsWith("Received: ")) break;
            }
            out.add(new Dump(f, mail, List.copyOf(rcpts), helo, text));
        }
        return out;
    }

    /** How many times {@code address} was accepted as a recipient, over all dumps. */
    public long count(String address) throws IOException {
        return dumps().stream().flatMap(d -> d.rcptArgs().stream()).filter(r -> r.startsWith("<" + address + ">")).count();
    }

    /** Waits until {@code n} transactions were dumped; returns them. */
    public List<Dump> await(int n, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<Dump> d = dumps();
            if (d.size() >= n && d.stream().allMatch(x -> x.text().endsWith("\n\n"))) return d;
            if (System.nanoTime() > deadline)
                throw new AssertionError("expected " + n + " message(s) at the sink " + host + ":" + port + " within "
                        + timeout + ", found " + d.size() + "\n" + log());
            Thread.sleep(20);
        }
    }

    private static void makeWritable(Path dir) throws IOException {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
            // nobody must be able to walk down to it
            for (Path p = dir.getParent(); p != null && p.getNameCount() > 1; p = p.getParent()) {
                var perms = Files.getPosixFilePermissions(p);
                if (!perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                    perms = new java.util.HashSet<>(perms);
                    perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
                    Files.setPosixFilePermissions(p, perms);
                }
            }
        } catch (UnsupportedOperationException notPosix) {
            // nothing to do
        }
    }

    @Override public void close() throws InterruptedException { stop(); }
}
