package dev.portcullis.server;

import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.config.Config;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.delivery.DeliveryAgent;
import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsjavaClient;
import dev.portcullis.store.SqliteStateStore;
import dev.portcullis.delivery.LocalDelivery;
import dev.portcullis.hook.Plugin;
import dev.portcullis.net.Listener;
import dev.portcullis.pickup.Maildrop;
import dev.portcullis.plugins.outbound.OutboundPlugin;
import dev.portcullis.pickup.PickupService;
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
import java.nio.file.Path;
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
    /** SMTP and POP3 listeners, in configuration order. */
    private final List<Listener> listeners = new ArrayList<>();
    private final ServerTls tls;
    private final SqliteStateStore store;
    private final SqliteAccounts accounts;
    private FileSpool spool;      // null until recovered: close() may run from the constructor's error path
    private PickupService pickup; // null until started: close() may run from the constructor's error path
    private dev.portcullis.outbound.OutboundQueue outbound; // null when [outbound] mode = "off"

    private Server(Config config, Clock clock) throws IOException {
        this.config = config;
        Files.createDirectories(config.dataDir());
        this.tls = config.tls().certificate() != null
                ? ServerTls.fromPem(config.tls().certificate(), config.tls().key())
                : ServerTls.selfSigned(config.tlsDir(), config.hostname());
        LOG.info(() -> "TLS certificate " + tls.sha256Fingerprint()
                + (config.tls().certificate() == null ? " (self-signed, " + config.tlsDir() + ")" : ""));
        this.store = SqliteStateStore.batched(config.stateFile(), clock);
        this.accounts = SqliteAccounts.open(config.dataDir(), config.local().domains());
        var recipients = new ConfiguredRecipients(config.local(), accounts);

        FileSpool spool = new FileSpool(config.queueDir());
        List<String> recovered = spool.recover();
        if (!recovered.isEmpty()) LOG.info(() -> "recovered " + recovered.size() + " queued message(s)");
        spool.startGroupCommit();
        this.spool = spool;
        LocalDelivery localDelivery = new LocalDelivery(spool, recipients, config.mailDir(), config.hostname(),
                config.local().store() == Config.LocalStore.DISCARD);
        if (config.local().store() == Config.LocalStore.DISCARD)
            LOG.info("[local] delivery = \"discard\": local mail is accepted and queued durably, then dropped unread");
        this.delivery = new DeliveryAgent(localDelivery);
        String postmasterDomain = postmasterDomain(config);
        Dns dns = dns(config);
        if (config.outbound().enabled()) { // local recipients first, then the outbound queue takes the id
            this.outbound = new dev.portcullis.outbound.OutboundQueue(config.outbound(), spool, localDelivery::isRemote, dns,
                    new dev.portcullis.outbound.DsnBuilder(config.hostname(), clock.getZone()), config.hostname(),
                    dev.portcullis.hook.Address.of("postmaster", postmasterDomain), delivery::submit, clock);
            delivery.remote(outbound);
        } else {
            LOG.info("outbound delivery off ([outbound] mode = \"off\"): mail for other domains stays queued");
        }
        Services services = new Services(clock, config.hostname(), config.dataDir(), recipients, dns, store,
                accounts, new LoginGuard(accounts, store, clock, config.login()), spool, delivery::submit, postmasterDomain);
        this.plugins = PluginLoader.load(config, services);
        delivery.requests(config.queueDir()); // portcullis queue flush / release / bounce
        delivery.start(recovered);
        // local programs count against their Unix user in the outbound limits, when that plugin is on
        java.util.function.Predicate<dev.portcullis.queue.Envelope> admit = plugins.stream()
                .filter(p -> p instanceof OutboundPlugin).map(p -> (OutboundPlugin) p)
                .<java.util.function.Predicate<dev.portcullis.queue.Envelope>>map(o -> o::admitLocal).findFirst().orElse(e -> true);
        this.pickup = new PickupService(Maildrop.folder(config.dataDir()), spool, delivery::submit, config.hostname(), clock, admit)
                .maxMessageSize(config.smtp().maxMessageSize());
        pickup.start(); // mail from local programs (portcullis sendmail)

        SmtpService service = new SmtpService(config.hostname(), config.smtp(), new HookChain(plugins), spool,
                delivery::submit, clock, config.relayNetworks(), config.allowNetworks(), recipients, postmasterDomain);
        try {
            var pop3 = new dev.portcullis.pop3.Pop3Service(config, services.loginGuard());
            for (Config.Listener l : config.listeners())
                listeners.add(dev.portcullis.pop3.Pop3Listener.ROLES.contains(l.role())
                        ? dev.portcullis.pop3.Pop3Listener.open(l, pop3, tls) : SmtpListener.open(l, service, tls));
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
        return withScratch(config, services -> {
            List<Plugin> chain = PluginLoader.load(config, services);
            chain.forEach(Plugin::close);
            return chain.stream().map(Plugin::name).toList();
        });
    }

    /**
     * Services for looking without touching: the configuration's DNS, but state and accounts in throw-away
     * stores and no spool, so neither check-config nor check writes anything into the data folder.
     */
    private static <T> T withScratch(Config config, java.util.function.Function<Services, T> work) {
        Path dir;
        try {
            dir = Files.createTempDirectory("portcullis-check");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // the real accounts when there are some (only read here), so check --rcpt knows the users
        Path accountsDir = Files.exists(config.dataDir().resolve(SqliteAccounts.FILE)) ? config.dataDir() : dir;
        try (var state = SqliteStateStore.inMemory(Clock.systemUTC());
             var accounts = SqliteAccounts.open(accountsDir, config.local().domains())) {
            var recipients = new ConfiguredRecipients(config.local(), accounts);
            return work.apply(new Services(Clock.systemUTC(), config.hostname(), config.dataDir(), recipients, dns(config),
                    state, accounts, new LoginGuard(accounts, state, Clock.systemUTC(), config.login()), null, id -> {},
                    postmasterDomain(config)));
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException ignored) {
                // a temporary folder left behind is harmless
            }
        }
    }

    private static String postmasterDomain(Config config) {
        return config.local().domains().isEmpty() ? config.hostname() : config.local().domains().getFirst();
    }

    /**
     * Runs the configured checks for a pretend client (EHLO, MAIL FROM and, when given, RCPT TO) with the
     * live configuration and DNS, but a scratch state store and no spool: nothing is stored or changed.
     */
    public static DryRun.Result dryRun(Config config, InetAddress client, String helo, String mailFrom, String rcpt) {
        return withScratch(config, services -> {
            List<Plugin> chain = PluginLoader.load(config, services);
            SmtpService service = new SmtpService(config.hostname(), config.smtp(), new HookChain(chain), null, id -> {},
                    Clock.systemUTC(), config.relayNetworks(), config.allowNetworks(), services.localRecipients(),
                    services.postmasterDomain());
            List<String> script = new ArrayList<>(List.of("EHLO " + helo, "MAIL FROM:<" + mailFrom + ">"));
            if (rcpt != null) script.add("RCPT TO:<" + rcpt + ">");
            script.add("QUIT");
            try {
                return DryRun.run(service, client, script);
            } finally {
                chain.forEach(Plugin::close);
            }
        });
    }

    /** The resolver the configuration describes. */
    public static Dns dns(Config config) {
        var d = config.dns();
        return new DnsjavaClient(d.servers(), d.timeout(), d.retries(), d.cache());
    }

    /** The port each listener is bound to, in configuration order (useful with port 0). */
    public List<Integer> ports() {
        return listeners.stream().map(Listener::port).toList();
    }

    public Config config() { return config; }

    /**
     * The queue as this server sees it, messages still kept in memory included (another process sees only
     * those with a queue file, see FileSpool). For tests and tools inside this process.
     */
    public dev.portcullis.queue.Spool spool() { return spool; }

    public ServerTls tls() { return tls; }

    @Override public void close() {
        if (pickup != null) pickup.close(); // no new local mail while delivery stops
        for (Listener l : listeners) {
            try {
                l.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
        delivery.close();
        if (outbound != null) outbound.close(); // after the agent: no id is handed over any more
        plugins.forEach(Plugin::close);
        store.close();
        accounts.close();
        if (spool != null) spool.close(); // last: delivery and pickup may still have removed or stored
    }
}
