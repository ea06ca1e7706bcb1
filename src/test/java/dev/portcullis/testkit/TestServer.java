package dev.portcullis.testkit;

import dev.portcullis.config.ConfigLoader;
import dev.portcullis.server.Server;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A real Portcullis server for integration tests, started in-process on 127.0.0.1 with an ephemeral port and
 * everything (config, data, Maildirs, queue) under one test folder.
 *
 * The configuration is built from named TOML sections so a test can replace one ({@code section("local", ...)})
 * or add one ({@code section("smtp", "max_message_size = \"1MB\"")}) without producing a duplicate table,
 * which TOML forbids. Defaults: hostname "mx.test", one mx listener, local domain "example.test" with users
 * alice and bob.
 */
public final class TestServer implements AutoCloseable {

    public static final String HOSTNAME = "mx.test";
    public static final String DOMAIN = "example.test";

    private final Path dir;
    private final Path configFile;
    private final Server server;

    private TestServer(Path dir, Path configFile, Server server) {
        this.dir = dir;
        this.configFile = configFile;
        this.server = server;
    }

    public static Builder in(Path dir) { return new Builder(dir); }

    /** A server with the default configuration in {@code dir}. */
    public static TestServer start(Path dir) throws IOException { return in(dir).start(); }

    public static final class Builder {
        private final Path dir;
        private final Map<String, String> sections = new LinkedHashMap<>();
        private final List<String> listeners = new ArrayList<>();
        private String extra = "";
        private java.time.Clock clock = java.time.Clock.systemUTC();

        private Builder(Path dir) {
            this.dir = dir;
            sections.put("server", "hostname = \"" + HOSTNAME + "\"\ndata_dir = \"data\"\n");
            sections.put("local", "domains = [\"" + DOMAIN + "\"]\nusers = [\"alice\", \"bob\"]\n");
        }

        /** Replaces (or adds) the body of a [name] table. */
        public Builder section(String name, String body) {
            sections.put(name, body.endsWith("\n") ? body : body + "\n");
            return this;
        }

        /** Resolves through {@code dns}: the [dns] section points at that in-process server. */
        public Builder dns(TestDns dns) { return section("dns", dns.settingsToml()); }

        /** Adds a [[listener]]; without any, one mx listener on 127.0.0.1 port 0 is configured. */
        public Builder listener(String address, int port, String role) {
            return listener(address, port, role, "");
        }

        /** As above, with more keys of the [[listener]] table (e.g. "max_connections = 2"). */
        public Builder listener(String address, int port, String role, String moreKeys) {
            listeners.add("address = \"" + address + "\"\nport = " + port + "\nrole = \"" + role + "\"\n"
                    + (moreKeys.isEmpty() || moreKeys.endsWith("\n") ? moreKeys : moreKeys + "\n"));
            return this;
        }

        /** The server's clock (a {@link MutableClock} lets a test move time for greylisting and the like). */
        public Builder clock(java.time.Clock c) {
            clock = c;
            return this;
        }

        /** Raw TOML appended at the end (for [[plugin]] entries and the like). */
        public Builder toml(String text) {
            extra += text.endsWith("\n") ? text : text + "\n";
            return this;
        }

        public String configText() {
            StringBuilder sb = new StringBuilder("# written by dev.portcullis.testkit.TestServer\n");
            for (var e : sections.entrySet()) sb.append('[').append(e.getKey()).append("]\n").append(e.getValue()).append('\n');
            List<String> ls = listeners.isEmpty() ? List.of("address = \"127.0.0.1\"\nport = 0\nrole = \"mx\"\n") : listeners;
            for (String l : ls) sb.append("[[listener]]\n").append(l).append('\n');
            sb.append(extra);
            return sb.toString();
        }

        /** Writes portcullis.toml into the folder without starting anything (for a server in another JVM). */
        public Path writeConfig() throws IOException {
            Files.createDirectories(dir);
            Path file = dir.resolve("portcullis.toml");
            Files.writeString(file, configText(), StandardCharsets.UTF_8);
            return file;
        }

        public TestServer start() throws IOException {
            Path file = writeConfig();
            String text = Files.readString(file, StandardCharsets.UTF_8);
            Server server = Server.start(ConfigLoader.parse(file.toString(), text, dir), clock);
            return new TestServer(dir, file, server);
        }
    }

    /** The first listener's port. */
    public int port() { return server.ports().getFirst(); }

    public List<Integer> ports() { return server.ports(); }

    public Server server() { return server; }

    public Path configFile() { return configFile; }

    public Path dataDir() { return server.config().dataDir(); }

    public Path maildir(String mailbox) { return dataDir().resolve("mail").resolve(mailbox); }

    /** The server's certificate as written on first start (self-signed, for mx.test). */
    public Path certificatePem() { return dataDir().resolve("tls").resolve("selfsigned-cert.pem"); }

    /** Files in {@code <mailbox>/new}, sorted by name (empty when the Maildir does not exist yet). */
    public List<Path> newFiles(String mailbox) { return Maildirs.newFiles(maildir(mailbox)); }

    /** Contents of the messages currently in {@code <mailbox>/new}. */
    public List<String> messages(String mailbox) { return Maildirs.read(newFiles(mailbox)); }

    /**
     * Waits until {@code <mailbox>/new} holds at least {@code n} messages and returns the contents of all of
     * them. Fails the test with what is there after {@code timeout}.
     */
    public List<String> awaitMessages(String mailbox, int n, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<Path> files = newFiles(mailbox);
            if (files.size() >= n) return Maildirs.read(files);
            if (System.nanoTime() > deadline)
                throw new AssertionError("expected " + n + " message(s) in " + mailbox + "/new within " + timeout
                        + ", found " + files.size() + "; queue holds " + queuedMessages());
            sleep(20);
        }
    }

    /**
     * Waits until a message whose text contains {@code marker} is in {@code <mailbox>/new} and returns it: for
     * tests that share one server and tell their messages apart by a subject or body of their own.
     */
    public String awaitMessage(String mailbox, String marker, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            var found = messages(mailbox).stream().filter(m -> m.contains(marker)).findFirst();
            if (found.isPresent()) return found.get();
            if (System.nanoTime() > deadline)
                throw new AssertionError("no message with " + marker + " in " + mailbox + "/new within " + timeout);
            sleep(20);
        }
    }

    /**
     * Queue ids waiting in the spool, as the server sees them: those kept in memory (no queue file yet) and
     * those in queue/messages. Empty means every accepted message was delivered (or none was accepted).
     */
    public List<String> queuedMessages() {
        try {
            return server.spool().list();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether a queued message (in memory or in queue/messages) contains {@code marker}. */
    public boolean queuedWith(String marker) {
        for (String id : queuedMessages()) {
            try (var in = server.spool().content(id)) {
                if (new String(in.readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1).contains(marker)) return true;
            } catch (NoSuchFileException delivered) {
                // gone meanwhile
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return false;
    }

    /**
     * Waits until the spool is empty, i.e. every accepted message has been delivered (or nothing was
     * accepted). After that, Maildir counts are final, so "delivered exactly once" can be asserted.
     */
    public void awaitQueueEmpty(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!queuedMessages().isEmpty()) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("queue not empty after " + timeout + ": " + queuedMessages());
            sleep(20);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Override public void close() { server.close(); }

    @Override public String toString() { return "TestServer[127.0.0.1:" + port() + ", " + dir + "]"; }
}
