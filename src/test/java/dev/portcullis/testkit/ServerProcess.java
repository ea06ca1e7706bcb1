package dev.portcullis.testkit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code portcullis serve --config <file>} in a separate JVM (the one running the tests, with the test
 * class path), so a test can kill it with SIGKILL and start another on the same data folder. Its output
 * goes to a log file next to the config, kept for failure messages. {@link #close} kills it if still alive.
 */
public final class ServerProcess implements AutoCloseable {

    private final Process process;
    private final Path log;
    private final int port;

    private ServerProcess(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /** A port that was free a moment ago (bind 0, read, close): the best one can do for another process. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    /**
     * Starts the server and waits until it prints "portcullis: serving" and accepts a connection on
     * {@code port}. Fails with the server's log if it exits or does not come up within {@code timeout}.
     */
    public static ServerProcess start(Path configFile, int port, Path log, Duration timeout) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow(() -> new AssertionError("cannot find the java binary"));
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "dev.portcullis.Main", "serve", "--config", configFile.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        ServerProcess sp = new ServerProcess(p, log, port);
        try {
            sp.awaitReady(timeout);
            return sp;
        } catch (IOException | RuntimeException | AssertionError e) {
            sp.kill();
            throw e;
        }
    }

    private void awaitReady(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive())
                throw new AssertionError("server exited with " + process.exitValue() + " before serving; log:\n" + log());
            if (log().contains("portcullis: serving") && accepts()) return;
            if (System.nanoTime() > deadline)
                throw new AssertionError("server not serving on port " + port + " after " + timeout + "; log:\n" + log());
            TestServer.sleep(25);
        }
    }

    private boolean accepts() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public int port() { return port; }

    public long pid() { return process.pid(); }

    public boolean isAlive() { return process.isAlive(); }

    /** SIGKILL: no shutdown hook, no flush, no close. Waits until the process is gone. */
    public void kill() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) throw new AssertionError("server process " + process.pid() + " survived SIGKILL");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** SIGTERM: the orderly stop (shutdown hook closes the listeners). Returns the exit code. */
    public int terminate(Duration timeout) {
        process.destroy();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
                throw new AssertionError("server did not stop within " + timeout + " of SIGTERM; log:\n" + log());
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    public String log() {
        try {
            return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    @Override public void close() {
        if (process.isAlive()) kill();
    }
}
