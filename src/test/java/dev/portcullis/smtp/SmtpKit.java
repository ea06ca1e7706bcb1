package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.StateStore;
import dev.portcullis.plugins.rcpt.RcptPlugin;
import dev.portcullis.plugins.relay.RelayPlugin;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@link SmtpSession}s in memory against a real configuration (parsed by {@link ConfigLoader} from a
 * small TOML), the real plugin chain (relay, rcpt, from their factories), a real {@link FileSpool} and a
 * fixed clock. Test plugins can be put ahead of or behind the configured chain; the spool can be replaced
 * (fault injection only).
 *
 * <pre>
 *   SmtpKit kit = SmtpKit.in(dir).smtp("max_recipients", "3");
 *   Run r = kit.send("EHLO c\r\n", "MAIL FROM:&lt;a@b.test&gt;\r\n");   // each string: one segment
 *   assertEquals(List.of("220", "250", "250 2.1.0"), r.codes());
 * </pre>
 */
final class SmtpKit {
    static final String HOST = "mx.test";
    static final Instant NOW = Instant.parse("2024-05-01T12:00:00Z");
    static final String NOW_RFC5322 = "Wed, 1 May 2024 12:00:00 +0000";
    static final long MAX_SIZE = 100_000;

    private final Path dir;
    private final Map<String, String> smtp = new LinkedHashMap<>();
    private String aliases = "sales = [\"alice\", \"bob\"]\ninfo = [\"sales\"]\n";
    private String users = "[\"alice\", \"bob\"]";
    private final List<String> relayNetworks = new ArrayList<>();
    private final List<Plugin> before = new ArrayList<>();
    private final List<Plugin> after = new ArrayList<>();
    private Spool spoolOverride;
    private boolean configuredChain = true;

    private Config config;
    private SmtpService service;
    private FileSpool fileSpool;
    private final List<String> queued = new ArrayList<>();

    private SmtpKit(Path dir) {
        this.dir = dir;
        smtp.put("max_message_size", String.valueOf(MAX_SIZE));
        smtp.put("max_errors", "50"); // most tests make many mistakes on purpose
        smtp.put("command_timeout", "\"11s\"");
        smtp.put("data_timeout", "\"7s\"");
    }

    static SmtpKit in(Path dir) { return new SmtpKit(dir); }

    /** A key of [smtp], with its TOML value as written in the file ({@code "3"}, {@code "\"accept\""}). */
    SmtpKit smtp(String key, String tomlValue) { checkOpen(); smtp.put(key, tomlValue); return this; }

    SmtpKit relay(String... networks) { checkOpen(); relayNetworks.addAll(List.of(networks)); return this; }

    /** The body of [local.aliases]. */
    SmtpKit aliases(String toml) { checkOpen(); aliases = toml; return this; }

    /** The TOML list of [local] users. */
    SmtpKit users(String tomlList) { checkOpen(); users = tomlList; return this; }

    /** Plugins asked before the configured chain (rcpt, relay). */
    SmtpKit before(Plugin... plugins) { checkOpen(); before.addAll(List.of(plugins)); return this; }

    /** Plugins asked after the configured chain. */
    SmtpKit after(Plugin... plugins) { checkOpen(); after.addAll(List.of(plugins)); return this; }

    /** Leaves out the configured chain (rcpt, relay): only the test's own plugins are asked. */
    SmtpKit withoutConfiguredChain() { checkOpen(); configuredChain = false; return this; }

    /** Replaces the FileSpool: for fault injection only. */
    SmtpKit spool(Spool spool) { checkOpen(); spoolOverride = spool; return this; }

    String toml() {
        StringBuilder sb = new StringBuilder();
        sb.append("[server]\nhostname = \"").append(HOST).append("\"\ndata_dir = \"data\"\n\n[smtp]\n");
        smtp.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
        sb.append("\n[local]\ndomains = [\"example.test\"]\nusers = ").append(users).append("\n\n[local.aliases]\n")
                .append(aliases).append("\n[relay]\nnetworks = [");
        for (int i = 0; i < relayNetworks.size(); i++) sb.append(i == 0 ? "" : ", ").append('"').append(relayNetworks.get(i)).append('"');
        sb.append("]\n");
        return sb.toString();
    }

    Config config() { build(); return config; }

    SmtpService service() { build(); return service; }

    private void checkOpen() {
        if (service != null) throw new IllegalStateException("configure the kit before the first session");
    }

    private void build() {
        if (service != null) return;
        config = ConfigLoader.parse("engine-test.toml", toml(), dir);
        Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
        LocalRecipients local = new ConfiguredRecipients(config.local());
        ServerServices services = new KitServices(clock, config.hostname(), config.dataDir(), local, null, null);
        // the engine's own chain, by name as the configuration lists it (not ServiceLoader: other test
        // folders may register plugins of their own)
        Map<String, PluginFactory> factories = new LinkedHashMap<>();
        for (PluginFactory f : List.of(new RcptPlugin.Factory(), new RelayPlugin.Factory())) factories.put(f.name(), f);
        List<Plugin> chain = new ArrayList<>(before);
        for (Config.PluginEntry entry : configuredChain ? config.plugins() : List.<Config.PluginEntry>of()) {
            PluginFactory f = factories.get(entry.name());
            if (f == null) throw new IllegalStateException("no plugin factory named " + entry.name());
            chain.add(f.create(entry.settings(), services));
            entry.finish().run();
        }
        chain.addAll(after);
        try {
            fileSpool = new FileSpool(config.queueDir());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        service = new SmtpService(config.hostname(), config.smtp(), new HookChain(chain),
                spoolOverride != null ? spoolOverride : fileSpool, queued::add, clock, config.relayNetworks(),
                config.allowNetworks(), local, "example.test");
    }

    /** No DNS and no state store: the engine's tests never touch the network or shared state. */
    record KitServices(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients, Dns dns, StateStore store)
            implements ServerServices {}

    // ---- running sessions -------------------------------------------------------------------------

    /** One session; each string is one segment of the client's bytes. */
    Run send(String... segments) { return run(MemoryTransport.of(segments)); }

    Run run(MemoryTransport transport) {
        build();
        new SmtpSession(service, transport, "mx", "T1").run();
        Run r = new Run(transport);
        r.assertWellFormed();
        assertTrue(transport.closed(), "the session must close its transport");
        return r;
    }

    /** Queue ids announced through SmtpService.queued, in order. */
    List<String> queued() { return List.copyOf(queued); }

    /** Ids in the FileSpool. */
    List<String> spooled() {
        build();
        try {
            return fileSpool.list();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    byte[] content(String id) {
        try (InputStream in = fileSpool.content(id)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stored content, each byte as one char (ISO-8859-1), so it compares byte-exactly. */
    String contentText(String id) { return new String(content(id), StandardCharsets.ISO_8859_1); }

    Envelope envelope(String id) {
        try {
            return fileSpool.envelope(id);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The one message in the spool. */
    String onlyMessage() {
        List<String> ids = spooled();
        assertEquals(1, ids.size(), "messages in the spool: " + ids);
        return ids.getFirst();
    }

    /** The Received field the engine prepends, as it must read for this test kit's session. */
    static String received(String helo, String with, String id, String forPath) {
        return "Received: from " + helo + " ([127.0.0.1])\r\n"
                + "\tby " + HOST + " (Portcullis) with " + with + " id " + id + "\r\n"
                + (forPath == null ? "\t;\r\n" : "\tfor " + forPath + ";\r\n")
                + "\t" + NOW_RFC5322 + "\r\n";
    }

    // ---- what a session said --------------------------------------------------------------------

    /** One reply: its code, its enhanced status code from the last line (null if none), all lines. */
    record Reply(int code, String enhanced, List<String> lines) {
        String summary() { return enhanced == null ? String.valueOf(code) : code + " " + enhanced; }
        String lastLine() { return lines.getLast(); }
    }

    static final class Run {
        private static final Pattern LINE = Pattern.compile("(\\d{3})([ -])(.*)");
        private static final Pattern ENHANCED = Pattern.compile("([245]\\.\\d{1,3}\\.\\d{1,3}) .*");
        private static final Pattern QUEUED = Pattern.compile("Ok: queued as ([0-9A-Z]+)");

        final MemoryTransport transport;
        private final String output;

        Run(MemoryTransport transport) {
            this.transport = transport;
            this.output = transport.written() + transport.tlsWritten();
        }

        String output() { return output; }

        /** Every reply line, without CRLF. */
        List<String> lines() {
            if (output.isEmpty()) return List.of();
            return List.of(output.substring(0, output.length() - 2).split("\r\n", -1));
        }

        List<Reply> replies() {
            List<Reply> out = new ArrayList<>();
            List<String> pending = new ArrayList<>();
            for (String line : lines()) {
                Matcher m = LINE.matcher(line);
                if (!m.matches()) throw new AssertionError("not a reply line: " + line + "\nin:\n" + output);
                pending.add(line);
                if (m.group(2).equals(" ")) {
                    Matcher e = ENHANCED.matcher(m.group(3));
                    out.add(new Reply(Integer.parseInt(m.group(1)), e.matches() ? e.group(1) : null, List.copyOf(pending)));
                    pending.clear();
                } else if (!pending.getFirst().startsWith(m.group(1))) {
                    throw new AssertionError("code changes inside a multi-line reply: " + line);
                }
            }
            if (!pending.isEmpty()) throw new AssertionError("unfinished multi-line reply: " + pending);
            return out;
        }

        /** "250 2.1.0", "354", ... one per reply, in order. */
        List<String> codes() { return replies().stream().map(Reply::summary).toList(); }

        Reply reply(int index) { return replies().get(index); }

        Reply last() { return replies().getLast(); }

        /** Queue ids in "250 2.0.0 Ok: queued as ID" replies. */
        List<String> queuedReplies() {
            List<String> ids = new ArrayList<>();
            for (String line : lines()) {
                Matcher m = QUEUED.matcher(line);
                if (line.startsWith("250 2.0.0 ") && m.find()) ids.add(m.group(1));
            }
            return ids;
        }

        /** The id from the one "queued as" reply. */
        String queueId() {
            List<String> ids = queuedReplies();
            assertEquals(1, ids.size(), "queued replies in:\n" + output);
            return ids.getFirst();
        }

        /** Every line ends in CRLF; no bare CR or LF anywhere in what the server wrote. */
        void assertWellFormed() {
            if (output.isEmpty()) return;
            assertTrue(output.endsWith("\r\n"), "output must end in CRLF:\n" + output);
            for (int i = 0; i < output.length(); i++) {
                char c = output.charAt(i);
                if (c == '\r') assertTrue(i + 1 < output.length() && output.charAt(i + 1) == '\n', "bare CR in output");
                if (c == '\n') assertTrue(i > 0 && output.charAt(i - 1) == '\r', "bare LF in output");
            }
        }

        @Override public String toString() { return output; }
    }
}
