package dev.portcullis.config;

import dev.portcullis.net.Cidr;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlTable;

/**
 * Reads the TOML configuration into a {@link Config}. Every mistake is a {@link ConfigException} naming the
 * file and line. With no file, the embedded {@code default-config.toml} is read the same way, so the
 * embedded defaults are checked by the same code as an administrator's file.
 */
public final class ConfigLoader {
    public static final String EMBEDDED = "default-config.toml";
    private static final Pattern MAILBOX = Pattern.compile("[a-z0-9][a-z0-9._-]*");
    private static final Pattern DOMAIN = Pattern.compile("(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    /** The chain used when the file lists no [[plugin]]. */
    public static final List<String> DEFAULT_CHAIN = List.of("relay", "rcpt");

    private ConfigLoader() {}

    public static Config load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        Path base = file.toAbsolutePath().getParent();
        return parse(file.toString(), text, base);
    }

    public static Config embedded(Path workingDir) {
        try (InputStream in = ConfigLoader.class.getResourceAsStream("/" + EMBEDDED)) {
            if (in == null) throw new IllegalStateException("embedded configuration missing from the build");
            return parse("(embedded) " + EMBEDDED, new String(in.readAllBytes(), StandardCharsets.UTF_8), workingDir);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String embeddedText() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream("/" + EMBEDDED)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Relative paths in the file are taken from {@code base} (the file's folder). */
    public static Config parse(String source, String text, Path base) {
        TomlParseResult toml = Toml.parse(text);
        if (toml.hasErrors()) {
            var e = toml.errors().getFirst();
            throw new ConfigException(source + ":" + e.position().line() + ": " + e.getMessage());
        }
        Section root = new Section(source, "", toml, null);

        Section server = root.table("server");
        String hostname = server.string("hostname", "localhost").toLowerCase(Locale.ROOT);
        if (!DOMAIN.matcher(hostname).matches()) throw server.error("hostname", "not a valid host name: " + hostname);
        Path dataDir = base.resolve(server.string("data_dir", "data")).normalize();
        server.finish();

        List<Config.Listener> listeners = listeners(root, source);

        Section smtp = root.table("smtp");
        String longLines = smtp.choice("long_lines", "reject", "reject", "accept");
        Config.Smtp smtpConfig = new Config.Smtp(
                positive(smtp, "max_message_size", smtp.size("max_message_size", 25L << 20)),
                smtp.integer("max_recipients", 100, 1, 100_000),
                smtp.integer("max_received_headers", 100, 1, 10_000),
                smtp.integer("max_errors", 10, 1, 10_000),
                longLines.equals("accept"),
                smtp.positiveDuration("command_timeout", Duration.ofMinutes(5)),
                smtp.positiveDuration("data_timeout", Duration.ofMinutes(3)),
                smtp.string("banner", "ESMTP Portcullis"));
        smtp.finish();

        Section tls = root.table("tls");
        String cert = tls.string("certificate", null);
        String key = tls.string("key", null);
        if ((cert == null) != (key == null))
            throw tls.error(cert == null ? "key" : "certificate", "certificate and key go together: set both or neither");
        Config.Tls tlsConfig = new Config.Tls(cert == null ? null : base.resolve(cert), key == null ? null : base.resolve(key));
        if (cert != null) {
            if (!Files.isReadable(tlsConfig.certificate())) throw tls.error("certificate", "cannot read " + tlsConfig.certificate());
            if (!Files.isReadable(tlsConfig.key())) throw tls.error("key", "cannot read " + tlsConfig.key());
        }
        tls.finish();

        Config.Local local = local(root.table("local"));

        Section relay = root.table("relay");
        List<Cidr> relayNetworks = networks(relay, "networks");
        relay.finish();

        Section checks = root.table("checks");
        List<Cidr> allowNetworks = networks(checks, "allow_networks");
        checks.finish();

        Section dns = root.table("dns");
        List<java.net.InetSocketAddress> servers = new ArrayList<>();
        for (String s : dns.strings("servers", List.of())) servers.add(hostPort(dns, "servers", s, 53));
        Config.Dns dnsConfig = new Config.Dns(List.copyOf(servers), dns.positiveDuration("timeout", Duration.ofSeconds(2)),
                dns.integer("retries", 1, 0, 10), dns.bool("cache", true));
        dns.finish();

        Section login = root.table("login");
        var d = dev.portcullis.accounts.LoginGuard.Settings.DEFAULT;
        var loginConfig = new dev.portcullis.accounts.LoginGuard.Settings(
                login.integer("max_failures", d.maxFailures(), 1, 1000),
                login.positiveDuration("failure_window", d.window()),
                login.positiveDuration("lockout", d.lockout()),
                login.duration("failure_delay", d.failureDelay()));
        login.finish();

        List<Config.PluginEntry> plugins = plugins(root, source);
        root.finish();
        return new Config(source, hostname, dataDir, listeners, smtpConfig, tlsConfig, local,
                List.copyOf(relayNetworks), allowNetworks, dnsConfig, loginConfig, plugins);
    }

    private static List<Config.Listener> listeners(Section root, String source) {
        List<Config.Listener> out = new ArrayList<>();
        for (Section s : tables(root, "listener", source)) {
            String address = s.string("address", "127.0.0.1");
            long port = s.integer("port", -1);
            if (port < 0 || port > 65535) throw s.sectionError("port: expected a port number from 0 to 65535");
            String role = s.choice("role", "mx", Config.Listener.ROLES.toArray(String[]::new));
            s.finish();
            out.add(new Config.Listener(address, (int) port, role));
        }
        if (out.isEmpty()) out.add(new Config.Listener("127.0.0.1", 2525, "mx"));
        return List.copyOf(out);
    }

    private static Config.Local local(Section s) {
        List<String> domains = new ArrayList<>();
        for (String d : s.strings("domains", List.of("localhost"))) {
            String lower = d.toLowerCase(Locale.ROOT);
            if (!DOMAIN.matcher(lower).matches()) throw s.error("domains", "not a valid domain: " + d);
            domains.add(lower);
        }
        List<String> users = new ArrayList<>();
        for (String u : s.strings("users", List.of())) {
            if (!MAILBOX.matcher(u).matches())
                throw s.error("users", "mailbox names are lower-case letters, digits, '.', '_' and '-': " + u);
            users.add(u);
        }
        Map<String, List<String>> aliases = new LinkedHashMap<>();
        Map<String, String> written = new LinkedHashMap<>(); // lower-case name -> the key as written, for errors
        Section a = s.table("aliases");
        for (String name : a.keys()) {
            String lower = name.toLowerCase(Locale.ROOT);
            if (!MAILBOX.matcher(lower).matches()) throw a.error(name, "not a valid alias name");
            if (written.put(lower, name) != null) throw a.error(name, "alias listed twice (names ignore case)");
            aliases.put(lower, a.strings(name, List.of()));
        }
        a.finish();
        s.finish();
        for (var e : aliases.entrySet())
            for (String target : e.getValue()) {
                String t = target.toLowerCase(Locale.ROOT);
                if (!users.contains(t) && !aliases.containsKey(t) && !t.equals("postmaster"))
                    throw a.error(written.get(e.getKey()), "alias target is neither a user nor an alias: " + target);
            }
        return new Config.Local(List.copyOf(domains), List.copyOf(users), Map.copyOf(aliases));
    }

    private static List<Config.PluginEntry> plugins(Section root, String source) {
        List<Config.PluginEntry> out = new ArrayList<>();
        for (Section s : tables(root, "plugin", source)) {
            String name = s.string("name", null);
            if (name == null) throw s.sectionError("every [[plugin]] needs a name");
            out.add(new Config.PluginEntry(name, s, s::finish));
        }
        if (out.isEmpty()) // no chain configured: the safe core, local recipients and trusted relays only
            for (String name : DEFAULT_CHAIN) {
                Section empty = new Section(source, "plugin", null, null);
                out.add(new Config.PluginEntry(name, empty, empty::finish));
            }
        return List.copyOf(out);
    }

    /** The sections of a TOML array of tables ({@code [[name]]}). */
    private static List<Section> tables(Section root, String key, String source) {
        root.markUsed(key);
        Object v = root.tomlTable().get(List.of(key));
        if (v == null) return List.of();
        if (!(v instanceof TomlArray array)) throw root.error(key, "expected [[" + key + "]] tables");
        List<Section> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            if (!(array.get(i) instanceof TomlTable t)) throw root.error(key, "expected [[" + key + "]] tables");
            out.add(new Section(source, key, t, array.inputPositionOf(i)));
        }
        return out;
    }

    static List<Cidr> networks(Section s, String key) {
        List<Cidr> out = new ArrayList<>();
        for (String n : s.strings(key, List.of())) {
            try {
                out.add(Cidr.parse(n));
            } catch (IllegalArgumentException e) {
                throw s.error(key, e.getMessage());
            }
        }
        return List.copyOf(out);
    }

    /** "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53" or "::1": literal addresses only, never a lookup. */
    private static java.net.InetSocketAddress hostPort(Section s, String key, String text, int defaultPort) {
        String host = text.trim();
        int port = defaultPort;
        var m = java.util.regex.Pattern.compile("\\[([0-9A-Fa-f:.]+)](?::(\\d+))?|([0-9.]+)(?::(\\d+))?|([0-9A-Fa-f:]+)").matcher(host);
        if (!m.matches()) throw s.error(key, "expected an IP address with an optional port, not \"" + text + "\"");
        String addr = m.group(1) != null ? m.group(1) : m.group(3) != null ? m.group(3) : m.group(5);
        String p = m.group(2) != null ? m.group(2) : m.group(4);
        if (p != null) port = p.length() > 5 ? -1 : Integer.parseInt(p);
        if (port < 1 || port > 65535) throw s.error(key, "port out of range in \"" + text + "\"");
        java.net.InetAddress ip = dev.portcullis.net.IpLiteral.parse(addr);
        if (ip == null) throw s.error(key, "not an IP address: " + text);
        return new java.net.InetSocketAddress(ip, port);
    }

    private static long positive(Section s, String key, long value) {
        if (value <= 0) throw s.error(key, "must be greater than zero");
        return value;
    }
}
