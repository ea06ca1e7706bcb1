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

        Section pop3 = root.table("pop3");
        Config.Pop3 pop3Config = new Config.Pop3(
                Config.Pop3.Plaintext.valueOf(pop3.choice("plaintext", "loopback", "loopback", "never", "always")
                        .toUpperCase(Locale.ROOT)),
                pop3.positiveDuration("timeout", Config.Pop3.DEFAULT.timeout()));
        pop3.finish();

        Config.Outbound outbound = outbound(root.table("outbound"), hostname, base);

        List<Config.PluginEntry> plugins = plugins(root, source);
        root.finish();
        return new Config(source, hostname, dataDir, listeners, smtpConfig, tlsConfig, local,
                List.copyOf(relayNetworks), allowNetworks, dnsConfig, loginConfig, plugins, outbound, pop3Config);
    }

    private static final Pattern DURATION = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h|d)");
    private static final Pattern RATE = Pattern.compile("(\\d{1,9})\\s*/\\s*(s|m|h)");
    private static final Pattern HOST = Pattern.compile(
            "\\[(?<v6>[0-9A-Fa-f:.]+)](?::(?<v6port>\\d{1,5}))?|(?<name>[^:\\[\\]]+?)(?::(?<port>\\d{1,5}))?|(?<bare>[0-9A-Fa-f]*:[0-9A-Fa-f:.]*)");

    /** [outbound]: delivery to other domains (docs/outbound.md). */
    private static Config.Outbound outbound(Section s, String hostname, Path base) {
        var d = Config.Outbound.off(hostname);
        String mode = s.choice("mode", "off", Config.Outbound.MODES.toArray(String[]::new));

        String smarthost = s.string("smarthost", null);
        String host = null;
        int smarthostPort = 25;
        if (smarthost != null) {
            var m = HOST.matcher(smarthost.trim());
            if (!m.matches()) throw s.error("smarthost", "expected \"host:port\", \"192.0.2.1:587\" or \"[2001:db8::1]:587\"");
            host = m.group("v6") != null ? m.group("v6") : m.group("name") != null ? m.group("name") : m.group("bare");
            String p = m.group("v6port") != null ? m.group("v6port") : m.group("port");
            if (p != null) smarthostPort = Integer.parseInt(p);
            if (smarthostPort < 1 || smarthostPort > 65535) throw s.error("smarthost", "port out of range");
            boolean literal = dev.portcullis.net.IpLiteral.parse(host) != null;
            if (m.group("v6") != null || m.group("bare") != null) {
                if (!literal) throw s.error("smarthost", "not an IP address: " + host);
            } else if (!literal && !DOMAIN.matcher(host.toLowerCase(Locale.ROOT)).matches()) {
                throw s.error("smarthost", "not a host name or IP address: " + host);
            }
            if (!literal) host = host.toLowerCase(Locale.ROOT);
        }
        if (mode.equals("smarthost") && host == null) throw s.error("mode", "mode \"smarthost\" needs smarthost = \"host:port\"");
        List<String> domains = new ArrayList<>();
        for (String dom : s.strings("smarthost_domains", List.of())) {
            String lower = dom.toLowerCase(Locale.ROOT);
            if (!DOMAIN.matcher(lower).matches()) throw s.error("smarthost_domains", "not a valid domain: " + dom);
            domains.add(lower);
        }

        int port = s.integer("port", d.port(), 1, 65535);
        String tls = s.choice("tls", d.tls(), "opportunistic", "required");
        String verify = s.choice("tls_verify", d.tlsVerify(), "none", "verify");

        String user = s.string("auth_user", null);
        String password = s.string("auth_password", null);
        String passwordFile = s.string("auth_password_file", null);
        if (password != null && passwordFile != null)
            throw s.error("auth_password_file", "set auth_password or auth_password_file, not both");
        if (passwordFile != null) {
            Path file = base.resolve(passwordFile);
            try {
                password = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException | RuntimeException e) {
                throw s.error("auth_password_file", "cannot read " + file + ": " + e.getMessage());
            }
            // A secrets file usually ends in a newline the password does not contain.
            if (password.endsWith("\n")) password = password.substring(0, password.length() - 1);
            if (password.endsWith("\r")) password = password.substring(0, password.length() - 1);
            if (password.isEmpty()) throw s.error("auth_password_file", file + " is empty");
        }
        if (user != null && password == null) throw s.error("auth_user", "needs auth_password or auth_password_file");
        if (user == null && password != null)
            throw s.error(passwordFile != null ? "auth_password_file" : "auth_password", "a password needs auth_user");
        if (user != null && (user.isEmpty() || user.chars().anyMatch(c -> c < 0x20 || c == 0x7f)))
            throw s.error("auth_user", "expected a user name without control characters");
        if (password != null && password.indexOf('\0') >= 0) throw s.error("auth_password", "contains a NUL character");

        String helo = s.string("helo_name", hostname).toLowerCase(Locale.ROOT);
        if (!DOMAIN.matcher(helo).matches()) throw s.error("helo_name", "not a valid host name: " + helo);

        int maxConnections = s.integer("max_connections", d.maxConnections(), 1, 10_000);
        int perDestination = s.integer("max_connections_per_destination", d.maxConnectionsPerDestination(), 1, 10_000);

        int rateMessages = 0;
        Duration ratePer = d.ratePer();
        String rate = s.string("rate_per_destination", "off").trim();
        if (!rate.equals("off")) {
            var m = RATE.matcher(rate);
            if (!m.matches() || Integer.parseInt(m.group(1)) == 0)
                throw s.error("rate_per_destination", "expected \"off\" or messages per second, minute or hour: \"10/s\", \"100/m\", \"1000/h\"");
            rateMessages = Integer.parseInt(m.group(1));
            ratePer = switch (m.group(2)) {
                case "s" -> Duration.ofSeconds(1);
                case "m" -> Duration.ofMinutes(1);
                default -> Duration.ofHours(1);
            };
        }

        List<Duration> intervals = new ArrayList<>();
        for (String text : s.strings("retry_intervals", List.of())) {
            Duration i = parseDuration(text);
            if (i == null || i.isZero()) throw s.error("retry_intervals", "expected durations longer than zero, such as [\"5m\", \"30m\", \"1h\"], not \"" + text + "\"");
            intervals.add(i);
        }
        if (s.has("retry_intervals") && intervals.isEmpty()) throw s.error("retry_intervals", "needs at least one interval");
        if (intervals.isEmpty()) intervals = d.retryIntervals();
        Duration giveUp = s.positiveDuration("give_up_after", d.giveUpAfter());

        Duration warning = null;
        String w = s.string("delay_warning_after", "off");
        if (!w.trim().equals("off")) {
            warning = s.positiveDuration("delay_warning_after", null);
            if (warning.compareTo(giveUp) >= 0) throw s.error("delay_warning_after", "must be shorter than give_up_after");
        }

        Duration connect = s.positiveDuration("connect_timeout", d.connectTimeout());
        Duration command = s.positiveDuration("command_timeout", d.commandTimeout());
        Duration data = s.positiveDuration("data_timeout", d.dataTimeout());
        String family = s.choice("address_family", d.addressFamily(), "any", "ipv4", "ipv6");
        s.finish();
        return new Config.Outbound(mode, host, smarthostPort, domains, port, tls, verify, user, password, helo,
                maxConnections, perDestination, rateMessages, ratePer, intervals, giveUp, warning, connect, command, data,
                family);
    }

    /** "30s", "5m", "1h", "2d", "500ms" (the syntax of every duration setting), or null. */
    private static Duration parseDuration(String text) {
        var m = DURATION.matcher(text.trim());
        if (!m.matches()) return null;
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
        return d.compareTo(Duration.ofDays(3660)) <= 0 ? d : null;
    }

    private static List<Config.Listener> listeners(Section root, String source) {
        List<Config.Listener> out = new ArrayList<>();
        for (Section s : tables(root, "listener", source)) {
            String address = s.string("address", "127.0.0.1");
            long port = s.integer("port", -1);
            if (port < 0 || port > 65535) throw s.sectionError("port: expected a port number from 0 to 65535");
            String role = s.choice("role", "mx", Config.Listener.ROLES.toArray(String[]::new));
            int max = s.integer("max_connections", Config.Listener.DEFAULT_MAX_CONNECTIONS, 1, 1_000_000);
            s.finish();
            out.add(new Config.Listener(address, (int) port, role, max));
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
        Config.LocalStore store = switch (s.string("delivery", "maildir")) {
            case "maildir" -> Config.LocalStore.MAILDIR;
            case "discard" -> Config.LocalStore.DISCARD;
            default -> throw s.error("delivery", "is \"maildir\" or \"discard\"");
        };
        s.finish();
        for (var e : aliases.entrySet())
            for (String target : e.getValue()) {
                String t = target.toLowerCase(Locale.ROOT);
                if (!users.contains(t) && !aliases.containsKey(t) && !t.equals("postmaster"))
                    throw a.error(written.get(e.getKey()), "alias target is neither a user nor an alias: " + target);
            }
        return new Config.Local(List.copyOf(domains), List.copyOf(users), Map.copyOf(aliases), store);
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
