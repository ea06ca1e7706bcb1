package dev.portcullis.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs an external program (swaks, python3, ...) to completion with a hard timeout. Output (stdout and
 * stderr together) goes to a temporary file, so a chatty program can never block on a full pipe; the process
 * is destroyed on every path out of {@link #run}.
 */
public final class Processes {
    private Processes() {}

    public record Result(List<String> command, int exitCode, String output) {
        public Result assertSuccess() {
            if (exitCode != 0) throw new AssertionError(describe("expected exit code 0"));
            return this;
        }

        public String describe(String what) {
            return what + ": " + String.join(" ", command) + " exited " + exitCode + "\n--- output ---\n" + output;
        }
    }

    public static Result run(Duration timeout, String... command) throws IOException {
        return run(timeout, null, List.of(command));
    }

    /** @param stdin bytes for the program's standard input, or null for none (empty input) */
    public static Result run(Duration timeout, byte[] stdin, List<String> command) throws IOException {
        Path log = Files.createTempFile("portcullis-it-", ".out");
        Process p = null;
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            p = pb.start();
            try (var in = p.getOutputStream()) {
                if (stdin != null) in.write(stdin);
            }
            boolean finished;
            try {
                finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while running " + command, e);
            }
            if (!finished) {
                p.destroyForcibly();
                String out = read(log);
                throw new AssertionError("timed out after " + timeout + ": " + String.join(" ", command)
                        + "\n--- output so far ---\n" + out);
            }
            return new Result(List.copyOf(command), p.exitValue(), read(log));
        } finally {
            if (p != null && p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            Files.deleteIfExists(log);
        }
    }

    private static String read(Path log) throws IOException {
        return new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
    }
}
