package dev.portcullis.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.net.Cidr;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The configuration file: defaults, and every mistake reported as {@code FILE:LINE: what} with the line of
 * the offending key — never a stack trace, never a silent wrong value.
 */
@Timeout(10)
class ConfigLoaderTest {
    static final String SOURCE = "test.toml";
    private static final Pattern LOCATED = Pattern.compile("test\\.toml:(\\d+): (.*)", Pattern.DOTALL);

    @TempDir Path dir;

    Config parse(String toml) { return ConfigLoader.parse(SOURCE, toml, dir); }

    /** The line (1-based) of the first line of {@code toml} containing {@code marker}. */
    static int lineOf(String toml, String marker) {
        String[] lines = toml.split("\n", -1);
        for (int i = 0; i < lines.length; i++) if (lines[i].contains(marker)) return i + 1;
        throw new AssertionError("no " + marker);
    }

    /** Asserts the file is refused with a message naming the file, the line of {@code marker}, and {@code words}. */
    String refused(String toml, String marker, String... words) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        Matcher m = LOCATED.matcher(e.getMessage());
        assertTrue(m.matches(), "not FILE:LINE: ...: " + e.getMessage());
        assertEquals(lineOf(toml, marker), Integer.parseInt(m.group(1)), e.getMessage());
        for (String w : words) assertTrue(m.group(2).contains(w), "'" + w + "' missing in: " + e.getMessage());
        return e.getMessage();
    }

    // ---- defaults ---------------------------------------------------------------------------------

    @Test
    void embeddedDefaultConfigurationLoads() {
        Config c = ConfigLoader.embedded(dir);
        assertEquals("localhost", c.hostname());
        assertEquals(dir.resolve("data"), c.dataDir());
        assertEquals(List.of(new Config.Listener("127.0.0.1", 2525, "mx"), new Config.Listener("127.0.0.1", 2587, "submission"),
                new Config.Listener("127.0.0.1", 2465, "submissions"), new Config.Listener("127.0.0.1", 2110, "pop3"),
                new Config.Listener("127.0.0.1", 2995, "pop3s")), c.listeners());
        assertEquals(new Config.Smtp(25L << 20, 100, 100, 10, false, Duration.ofMinutes(5), Duration.ofMinutes(3), "ESMTP Portcullis"),
                c.smtp());
        assertEquals(List.of("localhost"), c.local().domains());
        assertEquals(List.of("postmaster"), c.local().users());
        assertEquals(Map.of("abuse", List.of("postmaster")), c.local().aliases());
        assertEquals(Config.LocalStore.MAILDIR, c.local().store());
        assertEquals(List.of(), c.relayNetworks());
        assertEquals(List.of("auth", "outbound", "limit", "earlytalker", "fcrdns", "helo", "sender", "spf", "karma", "greylist",
                "relay", "rcpt"), c.plugins().stream().map(Config.PluginEntry::name).toList(), "the anti-spam chain is on by default");
        assertEquals(List.of(dev.portcullis.net.Cidr.parse("127.0.0.0/8"), dev.portcullis.net.Cidr.parse("::1/128")),
                c.allowNetworks(), "loopback, the only place the first run listens, is trusted");
        assertEquals(null, c.tls().certificate());
        assertTrue(c.source().contains(ConfigLoader.EMBEDDED));
    }

    @Test
    void emptyFileMeansTheDefaults() {
        Config c = parse("");
        assertEquals("localhost", c.hostname());
        assertEquals(List.of(new Config.Listener("127.0.0.1", 2525, "mx")), c.listeners());
        assertEquals(ConfigLoader.embedded(dir).smtp(), c.smtp());
        assertEquals(ConfigLoader.DEFAULT_CHAIN, c.plugins().stream().map(Config.PluginEntry::name).toList());
        assertEquals(List.of("localhost"), c.local().domains());
    }

    @Test
    void valuesAreRead() {
        Config c = parse("""
                [server]
                hostname = "MX.Example.TEST"
                data_dir = "/var/lib/portcullis"

                [[listener]]
                port = 25
                address = "0.0.0.0"

                [[listener]]
                port = 465
                role = "submissions"

                [smtp]
                max_message_size = "10MB"
                max_recipients = 3
                max_received_headers = 5
                max_errors = 7
                long_lines = "Accept"
                command_timeout = "30s"
                data_timeout = "500ms"
                banner = "hello"

                [local]
                domains = ["Example.TEST", "other.test"]
                users = ["alice", "bob.smith"]

                [local.aliases]
                team = ["alice", "bob.smith"]
                all = ["team", "postmaster"]

                [relay]
                networks = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
                """);
        assertEquals("mx.example.test", c.hostname());
        assertEquals(Path.of("/var/lib/portcullis"), c.dataDir());
        assertEquals(List.of(new Config.Listener("0.0.0.0", 25, "mx"), new Config.Listener("127.0.0.1", 465, "submissions")), c.listeners());
        assertEquals(new Config.Smtp(10L << 20, 3, 5, 7, true, Duration.ofSeconds(30), Duration.ofMillis(500), "hello"), c.smtp());
        assertEquals(List.of("example.test", "other.test"), c.local().domains());
        assertEquals(Map.of("team", List.of("alice", "bob.smith"), "all", List.of("team", "postmaster")), c.local().aliases());
        assertEquals(List.of(Cidr.parse("192.0.2.0/24"), Cidr.parse("2001:db8::/32"), Cidr.parse("198.51.100.7/32")).toString(),
                c.relayNetworks().toString());
    }

    @ParameterizedTest
    @CsvSource({"1000, 1000", "'\"1000\"', 1000", "'\"100b\"', 100", "'\"512k\"', 524288", "'\"512KiB\"', 524288",
            "'\"25MB\"', 26214400", "'\"25 mb\"', 26214400", "'\"1G\"', 1073741824"})
    void sizes(String toml, long bytes) {
        assertEquals(bytes, parse("[smtp]\nmax_message_size = " + toml + "\n").smtp().maxMessageSize());
    }

    @Test
    void aliasesResolveThroughConfiguredRecipients() {
        Config c = parse("""
                [local]
                domains = ["example.test"]
                users = ["alice", "bob"]
                [local.aliases]
                team = ["alice", "bob"]
                all = ["team", "alice"]
                """);
        ConfiguredRecipients r = new ConfiguredRecipients(c.local());
        assertTrue(r.isLocalDomain("EXAMPLE.test"));
        assertEquals(List.of("alice", "bob"), r.mailboxesFor(dev.portcullis.hook.Address.of("All", "example.test")).orElseThrow());
        assertEquals(List.of("postmaster"), r.mailboxesFor(dev.portcullis.hook.Address.of("postmaster", "example.test")).orElseThrow());
        assertTrue(r.mailboxesFor(dev.portcullis.hook.Address.of("carol", "example.test")).isEmpty());
    }

    // ---- mistakes ---------------------------------------------------------------------------------

    @Test
    void unknownKeyNamesFileLineAndKey() {
        String toml = """
                [server]
                hostname = "mx.test"

                [smtp]
                max_recipients = 5
                max_recipents = 5
                """;
        String msg = refused(toml, "max_recipents", "unknown setting", "smtp.max_recipents");
        assertEquals("test.toml:6: unknown setting smtp.max_recipents", msg);
    }

    @Test
    void unknownSectionIsAnUnknownSetting() {
        refused("[server]\nhostname = \"mx.test\"\n\n[smpt]\nmax_recipients = 5\n", "[smpt]", "unknown setting", "smpt");
    }

    @Test
    void unknownTopLevelKey() {
        refused("hostname = \"mx.test\"\n", "hostname", "unknown setting", "hostname");
    }

    @Test
    void unknownKeyInAListener() {
        refused("[[listener]]\nport = 25\n\n[[listener]]\nport = 587\nrole = \"submission\"\ntls = true\n", "tls = true",
                "unknown setting", "listener.tls");
    }

    @Test
    void wrongTypes() {
        refused("[smtp]\nmax_errors = 3\nmax_recipients = \"x\"\n", "max_recipients", "smtp.max_recipients", "whole number");
        refused("[smtp]\nlong_lines = true\n", "long_lines", "smtp.long_lines", "string");
        refused("[local]\nusers = [\"alice\", 3]\n", "users", "local.users", "list of strings");
        refused("[server]\nhostname = 42\n", "hostname", "server.hostname");
        refused("[smtp]\nbanner = [\"a\"]\n", "banner", "smtp.banner");
        refused("smtp = 3\n", "smtp", "smtp", "table");
        refused("[listener]\nport = 25\n", "[listener]", "listener");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"5 minutes\"", "\"5\"", "300", "\"-5s\"", "\"5S\"", "\"1.5m\"", "\"\""})
    void badDurations(String value) {
        String toml = "[smtp]\nmax_errors = 3\ncommand_timeout = " + value + "\n";
        refused(toml, "command_timeout", "smtp.command_timeout", "duration");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"25 megs\"", "-1", "\"-1\"", "\"MB\"", "1.5", "\"1.5MB\"", "true"})
    void badSizes(String value) {
        refused("[smtp]\nmax_message_size = " + value + "\n", "max_message_size", "smtp.max_message_size", "size");
    }

    @ParameterizedTest
    @ValueSource(strings = {"max_recipients = 0", "max_errors = -1", "max_received_headers = 0"})
    void limitsMustBePositive(String line) {
        refused("[smtp]\n" + line + "\n", line.substring(0, line.indexOf(' ')), "from 1 to");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-5", "1000001"})
    void listenerConnectionCapOutOfRange(String value) {
        refused("[[listener]]\nport = 2525\nmax_connections = " + value + "\n", "max_connections", "from 1 to");
    }

    @Test
    void messageSizeMustBePositive() {
        refused("[smtp]\nmax_message_size = 0\n", "max_message_size", "greater than zero");
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.0/33", "10.0.0.0/x", "::1/129", "10.0.0.0/-1", "mail.example.test", "", "10.0.0.0/8/8"})
    void badRelayNetworks(String network) {
        String toml = "[relay]\n\nnetworks = [\"192.0.2.0/24\", \"" + network + "\"]\n";
        refused(toml, "networks", "relay.networks");
    }

    @Test
    void unknownRole() {
        String toml = "[[listener]]\nport = 25\nrole = \"relay\"\n";
        refused(toml, "role", "listener.role", "mx, submission, submissions", "relay");
    }

    @Test
    void listenerWithoutPortNamesTheListener() {
        String toml = "[[listener]]\nport = 25\n\n[[listener]]\naddress = \"::\"\n";
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().startsWith("test.toml:"), e.getMessage());
        assertTrue(e.getMessage().contains("port"), e.getMessage());
    }

    @Test
    void aliasToNobody() {
        String toml = """
                [local]
                users = ["alice"]

                [local.aliases]
                staff = ["alice"]
                team = ["alice", "nobody"]
                """;
        refused(toml, "team =", "local.aliases.team", "nobody");
    }

    @Test
    void aliasToNobodyWithCapitalsNamesItsOwnLine() {
        String toml = """
                [local]
                users = ["alice"]

                [local.aliases]
                staff = ["alice"]
                Team = ["alice", "nobody"]
                """;
        refused(toml, "Team =", "nobody");
    }

    @Test
    void badMailboxAndAliasNames() {
        refused("[local]\nusers = [\"Alice\"]\n", "users", "local.users", "Alice");
        refused("[local]\nusers = [\"alice\"]\n[local.aliases]\n\"a b\" = [\"alice\"]\n", "\"a b\"", "alias");
    }

    @Test
    void localDeliveryIsMaildirOrDiscard() {
        assertEquals(Config.LocalStore.DISCARD, parse("[local]\ndelivery = \"discard\"\n").local().store());
        assertEquals(Config.LocalStore.MAILDIR, parse("[local]\ndelivery = \"maildir\"\n").local().store());
        refused("[local]\ndelivery = \"mbox\"\n", "delivery", "local.delivery", "discard");
    }

    @Test
    void badHostnameAndDomains() {
        refused("[server]\nhostname = \"mx_1.test\"\n", "hostname", "server.hostname", "mx_1.test");
        refused("[local]\ndomains = [\"example.test\", \"-bad.test\"]\n", "domains", "local.domains", "-bad.test");
    }

    @Test
    void certificateWithoutKey() {
        refused("[tls]\ncertificate = \"cert.pem\"\n", "certificate", "certificate and key go together");
        refused("[tls]\ncertificate = \"cert.pem\"\nkey = \"key.pem\"\n", "certificate", "cannot read");
    }

    @Test
    void tomlSyntaxErrorNamesFileAndLine() {
        String toml = "[server]\nhostname = \"mx.test\"\n\n[smtp]\nmax_recipients = = 3\n";
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().startsWith("test.toml:5: "), e.getMessage());
    }

    @Test
    void duplicateKeyIsASyntaxError() {
        String toml = "[smtp]\nmax_recipients = 3\nmax_recipients = 4\n";
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().startsWith("test.toml:3: "), e.getMessage());
    }

    @Test
    void unterminatedStringNamesItsLine() {
        String toml = "[server]\nhostname = \"mx.test\n";
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().startsWith("test.toml:2: "), e.getMessage());
    }

    @Test
    void loadNamesTheFile() throws Exception {
        Path file = dir.resolve("portcullis.toml");
        java.nio.file.Files.writeString(file, "[smtp]\nmax_recipients = \"x\"\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals(file + ":2: smtp.max_recipients: expected a whole number", e.getMessage());
        ConfigException missing = assertThrows(ConfigException.class, () -> ConfigLoader.load(dir.resolve("nope.toml")));
        assertTrue(missing.getMessage().startsWith(dir.resolve("nope.toml") + ": cannot read"), missing.getMessage());
    }

    // ---- numbers that do not fit ------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"max_recipients = 4294967297", "max_errors = 4294967296", "max_received_headers = 2147483648"})
    void intSettingsOutOfRangeAreRefused(String line) {
        refused("[smtp]\n" + line + "\n", line.substring(0, line.indexOf(' ')), "smtp.");
    }

    @Test
    void hugeDurationOrSizeIsAConfigError() {
        refused("[smtp]\ncommand_timeout = \"99999999999999999999s\"\n", "command_timeout", "smtp.command_timeout");
        refused("[smtp]\nmax_message_size = \"99999999999999999999\"\n", "max_message_size", "smtp.max_message_size");
    }

    @Test
    void durationTooLongForDurationIsAConfigError() {
        refused("[smtp]\ndata_timeout = \"9999999999999999d\"\n", "data_timeout", "smtp.data_timeout");
    }

    @Test
    void sizeThatOverflowsIsRefused() {
        refused("[smtp]\nmax_message_size = \"17179869185G\"\n", "max_message_size", "smtp.max_message_size");
    }

    @Test
    void zeroTimeoutIsRefused() {
        refused("[smtp]\ncommand_timeout = \"0s\"\n", "command_timeout", "smtp.command_timeout");
    }

    @Test
    void dnsServerPortTooLongIsAConfigError() {
        refused("[dns]\nservers = [\"192.0.2.53:99999999999\"]\n", "servers", "dns.servers");
    }

    @Test
    void dnsServerPortOutOfRangeIsAConfigError() {
        refused("[dns]\nservers = [\"192.0.2.53:70000\"]\n", "servers", "dns.servers", "port");
    }
}
