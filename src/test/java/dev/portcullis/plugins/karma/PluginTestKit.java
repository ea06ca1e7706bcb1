package dev.portcullis.plugins.karma;

import dev.portcullis.testkit.MutableClock;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.hook.StateStore;
import dev.portcullis.hook.Transaction;
import dev.portcullis.server.Server;
import dev.portcullis.store.SqliteStateStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * Test fixtures shared by the karma and greylist tests: a clock the test moves, a fake session and
 * transaction for unit tests of hook logic, plugins built through their real factories from real TOML (so
 * unknown keys and bad values fail as at start-up), a whole server on 127.0.0.1 with a controllable clock, and
 * a raw SMTP client bound to a chosen 127.0.0.x source address.
 */
public final class PluginTestKit {
    private PluginTestKit() {}

    public static final String DOMAIN = "example.test";
    public static final Instant START = Instant.parse("2024-05-01T12:00:00Z");


    /** A session as plugins see it; the flags a test may change are plain fields. */
    public static final class FakeTransaction implements Transaction {
        private final Address sender;
        private final Notes notes = new Notes();
        public final List<String> headers = new ArrayList<>();

        public FakeTransaction(Address sender) { this.sender = sender; }

        @Override public Address sender() { return sender; }
        @Override public Map<String, String> mailParameters() { return Map.of(); }
        @Override public List<Address> recipients() { return List.of(); }
        @Override public String queueId() { return null; }
        @Override public Notes notes() { return notes; }
        @Override public void addHeader(String name, String value) { headers.add(name + ": " + value); }
    }

    public static Address address(String mailbox) {
        if (mailbox.isEmpty()) return Address.NULL_SENDER;
        int at = mailbox.lastIndexOf('@');
        return Address.of(mailbox.substring(0, at), mailbox.substring(at + 1));
    }

    public static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal); // literals only: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }

    record Services(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients, Dns dns, StateStore store)
            implements ServerServices {}

    /**
     * Builds plugins through their ServiceLoader factories from {@code [[plugin]]} TOML, with local domain
     * example.test (users alice, bob), a fake clock and a SQLite store in {@code dir}. Closing closes the store.
     */
    public static final class Harness implements AutoCloseable {
        public final MutableClock clock;
        public final SqliteStateStore store;
        private final Path dir;

        public Harness(Path dir, MutableClock clock) {
            this.dir = dir;
            this.clock = clock;
            this.store = new SqliteStateStore(dir.resolve("state.db"), clock);
        }

        public Harness(Path dir) { this(dir, new MutableClock()); }

        /** The plugin {@code name} with {@code settings} (TOML lines); unknown keys fail as at start-up. */
        public Plugin plugin(String name, String settings) {
            String toml = "[local]\ndomains = [\"" + DOMAIN + "\"]\nusers = [\"alice\", \"bob\"]\n\n"
                    + "[[plugin]]\nname = \"" + name + "\"\n" + settings + "\n";
            Config config = ConfigLoader.parse("test.toml", toml, dir);
            Config.PluginEntry entry = config.plugins().getFirst();
            var services = new Services(clock, "mx.test", dir, new ConfiguredRecipients(config.local()), null, store);
            PluginFactory factory = ServiceLoader.load(PluginFactory.class).stream().map(ServiceLoader.Provider::get)
                    .filter(f -> f.name().equals(name)).findFirst().orElseThrow();
            Plugin plugin = factory.create(entry.settings(), services);
            entry.finish().run();
            return plugin;
        }

        @Override public void close() { store.close(); }
    }

    /**
     * Starts a whole server in {@code dir} (data in dir/data) on 127.0.0.1, port 0, with local domain
     * example.test (alice, bob), the given {@code [[plugin]]} chain and clock.
     */
    public static Server startServer(Path dir, String plugins, Clock clock) throws IOException {
        String toml = "[server]\nhostname = \"mx.test\"\ndata_dir = \"data\"\n\n"
                + "[local]\ndomains = [\"" + DOMAIN + "\"]\nusers = [\"alice\", \"bob\"]\n\n"
                + "[[listener]]\naddress = \"127.0.0.1\"\nport = 0\nrole = \"mx\"\n\n" + plugins;
        return Server.start(ConfigLoader.parse(dir.resolve("portcullis.toml").toString(), toml, dir), clock);
    }

    /** One SMTP reply: code and the text of its last line. */
    public record Reply(int code, String text) {
        public boolean is(int expected, String enhanced) { return code == expected && text.startsWith(enhanced + " "); }
    }

    /** A raw SMTP client whose socket is bound to a chosen loopback source address before it connects. */
    public static final class LoopbackClient implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final StringBuilder transcript = new StringBuilder();

        private LoopbackClient(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        /** Connects from {@code sourceIp} (127.x.y.z) to 127.0.0.1:port; the greeting is not read yet. */
        public static LoopbackClient connect(String sourceIp, int port) throws IOException {
            Socket s = new Socket();
            try {
                s.bind(new InetSocketAddress(sourceIp, 0));
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setSoTimeout(10_000);
                return new LoopbackClient(s);
            } catch (IOException | RuntimeException e) {
                s.close();
                throw e;
            }
        }

        /** Connects, reads a 220 greeting and says EHLO {@code helo}. */
        public static LoopbackClient open(String sourceIp, int port, String helo) throws IOException {
            LoopbackClient c = connect(sourceIp, port);
            try {
                c.expect(c.read(), 220);
                c.expect(c.command("EHLO " + helo), 250);
                return c;
            } catch (IOException | RuntimeException | AssertionError e) {
                c.close();
                throw e;
            }
        }

        public Reply command(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            transcript.append("C: ").append(line).append('\n');
            return read();
        }

        /** Reads one (possibly multi-line) reply. */
        public Reply read() throws IOException {
            while (true) {
                String line = line();
                transcript.append("S: ").append(line).append('\n');
                if (line.length() < 4 || !Character.isDigit(line.charAt(0)))
                    throw new AssertionError("not an SMTP reply: " + line + "\n" + transcript);
                if (line.charAt(3) == ' ') return new Reply(Integer.parseInt(line.substring(0, 3)), line.substring(4));
            }
        }

        private String line() throws IOException {
            StringBuilder sb = new StringBuilder();
            while (true) {
                int b = in.read();
                if (b < 0) throw new java.io.EOFException("connection closed; transcript:\n" + transcript + sb);
                if (b == '\n') break;
                if (b != '\r') sb.append((char) b);
            }
            return sb.toString();
        }

        public Reply expect(Reply r, int code) {
            if (r.code() != code) throw new AssertionError("expected " + code + ", got " + r + "\n" + transcript);
            return r;
        }

        /** Sends a small message after DATA was accepted and returns the final reply. */
        public Reply data(String subject) throws IOException {
            expect(command("DATA"), 354);
            return command("Subject: " + subject + "\r\n\r\nhello\r\n.");
        }

        /**
         * QUIT, then waits until the server closes the connection: by then its disconnect hooks have run (the
         * server closes the socket after them), so the next session sees what this one left in the store.
         */
        public void quit() throws IOException {
            expect(command("QUIT"), 221);
            awaitClose();
        }

        /** Reads until end of stream (the server closed the connection). */
        public void awaitClose() throws IOException {
            while (in.read() >= 0) { /* discard */ }
        }

        public String transcript() { return transcript.toString(); }

        @Override public void close() throws IOException { socket.close(); }
    }

    /** Files in a Maildir's new/ folder, sorted (empty when it does not exist yet). */
    public static List<Path> files(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) return List.of();
        try (Stream<Path> s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }

    /** Waits (delivery is asynchronous) until {@code folder} holds {@code n} messages; returns their text. */
    public static List<String> awaitMessages(Path folder, int n) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            List<Path> found = files(folder);
            if (found.size() >= n) {
                List<String> out = new ArrayList<>();
                for (Path p : found) out.add(Files.readString(p));
                return out;
            }
            if (System.nanoTime() > deadline)
                throw new AssertionError("expected " + n + " message(s) in " + folder + ", found " + found);
            Thread.sleep(20);
        }
    }

    public static void assertContains(String haystack, String needle) {
        assertTrue(haystack.contains(needle), () -> "expected to find " + needle + " in:\n" + haystack);
    }
}
