package dev.portcullis.server;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.delivery.DeliveryAgent;
import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsjavaClient;
import dev.portcullis.store.SqliteStateStore;
import dev.portcullis.delivery.LocalDelivery;
import dev.portcullis.hook.Plugin;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.Spool;
import dev.portcullis.smtp.DryRun;
import dev.portcullis.smtp.HookChain;
import dev.portcullis.smtp.SmtpListener;
import dev.portcullis.smtp.SmtpService;
import dev.portcullis.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * Wiring: from a validated {@link Config} to running listeners, spool and delivery. Start order matters:
 * the queue is recovered and handed to delivery before the first listener accepts a connection.
 */
public final class Server implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("portcullis.server");

    private final Config config;
    private final List<Plugin> plugins;
    private final DeliveryAgent delivery;
    private final List<SmtpListener> listeners = new ArrayList<>();
    private final ServerTls tls;
    private final SqliteStateStore store;

    private Server(Config config, Clock clock) throws IOException {
        this.config = config;
        Files.createDirectories(config.dataDir());
        this.tls = config.tls().certificate() != null
                ? ServerTls.fromPem(config.tls().certificate(), config.tls().key())
                : ServerTls.selfSigned(config.tlsDir(), config.hostname());
        LOG.info(() -> "TLS certificate " + tls.sha256Fingerprint()
                + (config.tls().certificate() == null ? " (self-signed, " + config.tlsDir() + ")" : ""));
        var recipients = new ConfiguredRecipients(config.local());
        this.store = new SqliteStateStore(config.stateFile(), clock);
        Services services = new Services(clock, config.hostname(), config.dataDir(), recipients, dns(config), store);
        this.plugins = PluginLoader.load(config, services);

        Spool spool = new FileSpool(config.queueDir());
        List<String> recovered = spool.recover();
        if (!recovered.isEmpty()) LOG.info(() -> "recovered " + recovered.size() + " queued message(s)");
        this.delivery = new DeliveryAgent(new LocalDelivery(spool, recipients, config.mailDir(), config.hostname()));
        delivery.start(recovered);

        String postmasterDomain = config.local().domains().isEmpty() ? config.hostname() : config.local().domains().getFirst();
        SmtpService service = new SmtpService(config.hostname(), config.smtp(), new HookChain(plugins), spool,
                delivery::submit, clock, config.relayNetworks(), config.allowNetworks(), recipients, postmasterDomain);
        try {
            for (Config.Listener l : config.listeners()) listeners.add(new SmtpListener(l, service, tls));
        } catch (IOException e) {
            close();
            throw e;
        }
    }

    public static Server start(Config config) throws IOException {
        return start(config, Clock.systemUTC());
    }

    public static Server start(Config config, Clock clock) throws IOException {
        return new Server(config, clock);
    }

    /** Builds (and closes) every plugin, so their settings are validated too: for check-config. */
    public static List<String> checkPlugins(Config config) {
        var recipients = new ConfiguredRecipients(config.local());
        try (var scratch = SqliteStateStore.inMemory(Clock.systemUTC())) {
            List<Plugin> chain = PluginLoader.load(config,
                    new Services(Clock.systemUTC(), config.hostname(), config.dataDir(), recipients, dns(config), scratch));
            chain.forEach(Plugin::close);
            return chain.stream().map(Plugin::name).toList();
        }
    }

    /**
     * Runs the configured checks for a pretend client (EHLO, MAIL FROM and, when given, RCPT TO) with the
     * live configuration and DNS, but a scratch state store and no spool: nothing is stored or changed.
     */
    public static DryRun.Result dryRun(Config config, InetAddress client, String helo, String mailFrom, String rcpt) {
        var recipients = new ConfiguredRecipients(config.local());
        try (var scratch = SqliteStateStore.inMemory(Clock.systemUTC())) {
            List<Plugin> chain = PluginLoader.load(config,
                    new Services(Clock.systemUTC(), config.hostname(), config.dataDir(), recipients, dns(config), scratch));
            String postmasterDomain = config.local().domains().isEmpty() ? config.hostname() : config.local().domains().getFirst();
            SmtpService service = new SmtpService(config.hostname(), config.smtp(), new HookChain(chain), null, id -> {},
                    Clock.systemUTC(), config.relayNetworks(), config.allowNetworks(), recipients, postmasterDomain);
            List<String> script = new ArrayList<>(List.of("EHLO " + helo, "MAIL FROM:<" + mailFrom + ">"));
            if (rcpt != null) script.add("RCPT TO:<" + rcpt + ">");
            script.add("QUIT");
            try {
                return DryRun.run(service, client, script);
            } finally {
                chain.forEach(Plugin::close);
            }
        }
    }

    /** The resolver the configuration describes. */
    public static Dns dns(Config config) {
        var d = config.dns();
        return new DnsjavaClient(d.servers(), d.timeout(), d.retries(), d.cache());
    }

    /** The port each listener is bound to, in configuration order (useful with port 0). */
    public List<Integer> ports() { return listeners.stream().map(SmtpListener::port).toList(); }

    public Config config() { return config; }

    public ServerTls tls() { return tls; }

    @Override public void close() {
        for (SmtpListener l : listeners) {
            try {
                l.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        delivery.close();
        plugins.forEach(Plugin::close);
        store.close();
    }
}
