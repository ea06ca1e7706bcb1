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
        List<PluginEntry> plugins) {

    /** The resolver: servers as host:port (empty = the system's), per-try timeout, retries, TTL cache. */
    public record Dns(List<java.net.InetSocketAddress> servers, Duration timeout, int retries, boolean cache) {}

    public record Listener(String address, int port, String role) {
        public static final List<String> ROLES = List.of("mx", "submission", "submissions");
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

    /** Local domains, mailboxes (users) and aliases (address local part to mailboxes or other aliases). */
    public record Local(List<String> domains, List<String> users, Map<String, List<String>> aliases) {}

    /** One entry of the ordered plugin chain, with its own settings section. */
    public record PluginEntry(String name, PluginSettings settings, Runnable finish) {}

    public Path queueDir() { return dataDir.resolve("queue"); }
    public Path mailDir() { return dataDir.resolve("mail"); }
    public Path tlsDir() { return dataDir.resolve("tls"); }
    public Path stateFile() { return dataDir.resolve("state.db"); }
}
