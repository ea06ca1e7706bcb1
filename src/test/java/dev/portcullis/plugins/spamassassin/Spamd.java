package dev.portcullis.plugins.spamassassin;

import dev.portcullis.testkit.ServerProcess;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * SpamAssassin's real spamd (Debian's {@code spamd} package), started by a test on 127.0.0.1 and a free port
 * and on a Unix socket in the test's folder, as a child process: one child worker, no network tests
 * ({@code --local}: no DNS blocklists, nothing leaves the machine), no per-user configuration, the stock rules
 * of the package (no {@code sa-update}). Run as root (CI), it drops to {@code nobody}. Ready once it answers
 * {@code PING} with {@code PONG}; {@link #close} stops it and its children.
 */
final class Spamd implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/sbin/spamd");
    static final Duration START = Duration.ofSeconds(90);

    final int port;
    final Path socket;
    private final Path log;
    private final Process process;

    private Spamd(int port, Path socket, Path log, Process process) {
        this.port = port;
        this.socket = socket;
        this.log = log;
        this.process = process;
    }

    static Spamd start(Path dir) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(BINARY), "spamd missing: apt-get install spamassassin spamd (.ci/run does)");
        Files.createDirectories(dir);
        int port = ServerProcess.freePort();
        Path socket = dir.resolve("spamd.sock");
        Path log = dir.resolve("spamd.log");
        List<String> cmd = new ArrayList<>(List.of(BINARY.toString(), "--listen", "127.0.0.1:" + port,
                "--socketpath", socket.toString(), "--max-children", "1", "--nouser-config", "--local",
                "--syslog", "stderr", "--pidfile", dir.resolve("spamd.pid").toString()));
        if ("root".equals(System.getProperty("user.name"))) cmd.addAll(List.of("-u", "nobody"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Spamd spamd = new Spamd(port, socket, log, p);
        try {
            spamd.awaitPong();
        } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
            spamd.close();
            throw e;
        }
        return spamd;
    }


    private void awaitPong() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START.toNanos();
        String last = "";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new AssertionError("spamd exited with " + process.exitValue() + ":\n" + log());
            try {
                last = ping();
                if (last.startsWith("SPAMD/") && last.contains("PONG")) return;
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("spamd did not answer PING within " + START + " (last: " + last + "):\n" + log());
    }

    /** spamd's answer to {@code PING SPAMC/1.5}. */
    String ping() throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("PING SPAMC/1.5\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override public void close() { stop(); }

    /** Stops spamd (TERM, then KILL) and every child it forked; waits until they are gone. Again: nothing. */
    void stop() {
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            for (ProcessHandle child : children) {
                child.destroy();
                try {
                    child.onExit().get(10, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    child.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
            Thread.currentThread().interrupt();
        }
    }
}
