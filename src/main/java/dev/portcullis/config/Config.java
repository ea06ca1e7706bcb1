package dev.portcullis.config;

import dev.portcullis.hook.PluginSettings;
import dev.portcullis.net.Cidr;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The whole configuration, validated once at start and immutable afterwards. */
public record Config(
        String source,
        String hostname,
        Path dataDir,
        List<Listener> listeners,
        Smtp smtp,
        Tls tls,
        Local local,
        List<Cidr> relayNetworks,
        List<Cidr> allowNetworks,
        Dns dns,
        dev.portcullis.accounts.LoginGuard.Settings login,
        List<PluginEntry> plugins,
        Outbound outbound,
        Pop3 pop3) {

    /** The configuration without a [pop3] section's settings: the POP3 defaults (for older callers). */
    public Config(String source, String hostname, Path dataDir, List<Listener> listeners, Smtp smtp, Tls tls, Local local,
                  List<Cidr> relayNetworks, List<Cidr> allowNetworks, Dns dns,
                  dev.portcullis.accounts.LoginGuard.Settings login, List<PluginEntry> plugins, Outbound outbound) {
        this(source, hostname, dataDir, listeners, smtp, tls, local, relayNetworks, allowNetworks, dns, login, plugins,
                outbound, Pop3.DEFAULT);
    }

    /**
     * [pop3] (docs/pop3.md): whether a password may be sent in clear before STLS ({@code LOOPBACK}: only by a
     * client on a loopback address), and the inactivity timeout (RFC 1939 section 3: at least 10 minutes).
     */
    public record Pop3(Plaintext plaintext, Duration timeout) {
        public enum Plaintext { LOOPBACK, NEVER, ALWAYS }

        public static final Pop3 DEFAULT = new Pop3(Plaintext.LOOPBACK, Duration.ofMinutes(10));
    }

    /** The configuration without an [outbound] section's settings: outbound delivery off (for older callers). */
    public Config(String source, String hostname, Path dataDir, List<Listener> listeners, Smtp smtp, Tls tls, Local local,
                  List<Cidr> relayNetworks, List<Cidr> allowNetworks, Dns dns,
                  dev.portcullis.accounts.LoginGuard.Settings login, List<PluginEntry> plugins) {
        this(source, hostname, dataDir, listeners, smtp, tls, local, relayNetworks, allowNetworks, dns, login, plugins,
                Outbound.off(hostname));
    }

    /**
     * Delivery to other domains ([outbound], docs/outbound.md). {@code mode} is "off" (remote recipients stay
     * queued), "mx" (direct to each domain's MX hosts) or "smarthost" (everything, or {@code smarthostDomains},
     * through one relay). Durations: {@code delayWarningAfter} null means no delay warnings.
     */
    public record Outbound(
            String mode,
            String smarthostHost,          // a name or an IP literal (without brackets); null unless configured
            int smarthostPort,
            List<String> smarthostDomains, // empty: every domain goes to the smarthost
            int port,                      // the port for MX delivery: 25 but in tests and unusual setups
            String tls,                    // "opportunistic" or "required"
            String tlsVerify,              // "none" or "verify"
            String authUser,               // null: no AUTH
            String authPassword,
            String heloName,
            int maxConnections,
            int maxConnectionsPerDestination,
            int rateMessages,              // 0: no rate limit
            Duration ratePer,
            List<Duration> retryIntervals, // the last one repeats
            Duration giveUpAfter,
            Duration delayWarningAfter,    // null: off
            Duration connectTimeout,
            Duration commandTimeout,
            Duration dataTimeout,
            String addressFamily) {        // "any", "ipv4" or "ipv6"

        public static final List<String> MODES = List.of("off", "mx", "smarthost");

        public Outbound {
            smarthostDomains = List.copyOf(smarthostDomains);
            retryIntervals = List.copyOf(retryIntervals);
        }

        public static Outbound off(String hostname) {
            return new Outbound("off", null, 25, List.of(), 25, "opportunistic", "none", null, null, hostname, 20, 4, 0,
                    Duration.ofSeconds(1), DEFAULT_RETRY_INTERVALS, Duration.ofDays(5), null, Duration.ofSeconds(30),
                    Duration.ofMinutes(5), Duration.ofMinutes(10), "any");
        }

        /** RFC 5321 4.5.4.1 in spirit: the first retry within minutes, then growing to hours. */
        public static final List<Duration> DEFAULT_RETRY_INTERVALS = List.of(Duration.ofMinutes(5), Duration.ofMinutes(15),
                Duration.ofMinutes(30), Duration.ofHours(1), Duration.ofHours(2), Duration.ofHours(4));

        public boolean enabled() { return !mode.equals("off"); }

        /** Whether mail for {@code domain} goes through the smarthost. */
        public boolean viaSmarthost(String domain) {
            return mode.equals("smarthost") && (smarthostDomains.isEmpty() || smarthostDomains.contains(domain));
        }

        /** Never print the password (logs, error messages, a debugger's toString). */
        @Override public String toString() {
            return "Outbound[mode=" + mode + ", smarthost=" + smarthostHost + ":" + smarthostPort + ", smarthostDomains="
                    + smarthostDomains + ", port=" + port + ", tls=" + tls + ", tlsVerify=" + tlsVerify + ", authUser="
                    + authUser + ", authPassword=" + (authPassword == null ? "null" : "***") + ", heloName=" + heloName
                    + ", maxConnections=" + maxConnections + ", perDestination=" + maxConnectionsPerDestination
                    + ", rate=" + rateMessages + "/" + ratePer + ", retryIntervals=" + retryIntervals + ", giveUpAfter="
                    + giveUpAfter + ", delayWarningAfter=" + delayWarningAfter + "]";
        }
    }

    /** The resolver: servers as host:port (empty = the system's), per-try timeout, retries, TTL cache. */
    public record Dns(List<java.net.InetSocketAddress> servers, Duration timeout, int retries, boolean cache) {}

    /** @param maxConnections live connections the listener holds at most (see net.Listener.Busy) */
    public record Listener(String address, int port, String role, int maxConnections) {
        public static final List<String> ROLES = List.of("mx", "submission", "submissions", "pop3", "pop3s");
        public static final int DEFAULT_MAX_CONNECTIONS = 20_000;

        public Listener(String address, int port, String role) {
            this(address, port, role, DEFAULT_MAX_CONNECTIONS);
        }
    }

    public record Smtp(
            long maxMessageSize,
            int maxRecipients,
            int maxReceivedHeaders,
            int maxErrors,
            boolean acceptLongLines,
            Duration commandTimeout,
            Duration dataTimeout,
            String banner) {}

    /** Certificate and key in PEM; both null means a self-signed certificate generated in the data folder. */
    public record Tls(Path certificate, Path key) {}

    /**
     * Local domains, mailboxes (users) and aliases (address local part to mailboxes or other aliases), and
     * what final delivery does with a message for them.
     */
    public record Local(List<String> domains, List<String> users, Map<String, List<String>> aliases, LocalStore store) {
        public Local(List<String> domains, List<String> users, Map<String, List<String>> aliases) {
            this(domains, users, aliases, LocalStore.MAILDIR);
        }
    }

    /**
     * Where local mail ends: a Maildir per mailbox, or nowhere (accepted, queued durably, then dropped, as
     * Postfix's discard transport: a sink host, a trap domain, or a benchmark like for like with such peers).
     */
    public enum LocalStore { MAILDIR, DISCARD }

    /** One entry of the ordered plugin chain, with its own settings section. */
    public record PluginEntry(String name, PluginSettings settings, Runnable finish) {}

    public Path queueDir() { return dataDir.resolve("queue"); }
    public Path mailDir() { return dataDir.resolve("mail"); }
    public Path tlsDir() { return dataDir.resolve("tls"); }
    public Path stateFile() { return dataDir.resolve("state.db"); }
}
