package dev.portcullis.testkit;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.StateStore;
import dev.portcullis.store.SqliteStateStore;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ServiceLoader;

/**
 * Builds plugins for unit tests exactly as the server does: a {@code [[plugin]]} table parsed by
 * {@link ConfigLoader#parse}, the factory the ServiceLoader finds under that name, then {@code entry.finish()},
 * so an unknown key or a bad value fails as it would at start-up (with "test.toml:" and the line).
 *
 * The services are the test's: a {@link MutableClock}; a resolver (a {@link TestDns#client()}) or none; a real
 * SQLite store, in {@code dir/state.db} (reopening the same folder finds what a closed harness left) or in
 * memory; hostname {@value TestServer#HOSTNAME}; local recipients from the config's [local] section, the same
 * as {@link TestServer}'s ({@value TestServer#DOMAIN}, users alice and bob). Closing closes the store.
 */
public final class PluginHarness implements AutoCloseable {
    private static final String LOCAL = "[local]\ndomains = [\"" + TestServer.DOMAIN + "\"]\nusers = [\"alice\", \"bob\"]\n";

    public final MutableClock clock;
    public final SqliteStateStore store;
    private final Path dir;
    private final Dns dns;

    private PluginHarness(Path dir, MutableClock clock, Dns dns, SqliteStateStore store) {
        this.dir = dir;
        this.clock = clock;
        this.dns = dns;
        this.store = store;
    }

    /** Plugins without a resolver, keeping their state in {@code dir/state.db}, on a new clock. */
    public static PluginHarness in(Path dir) { return in(dir, new MutableClock()); }

    /** As {@link #in(Path)} on {@code clock}: a second harness on the same folder and clock is a restart. */
    public static PluginHarness in(Path dir, MutableClock clock) {
        return new PluginHarness(dir, clock, null, new SqliteStateStore(dir.resolve("state.db"), clock));
    }

    /** Plugins resolving through {@code dns} (null: no resolver), with their state in memory, on a new clock. */
    public static PluginHarness inMemory(Dns dns) {
        MutableClock clock = new MutableClock();
        return new PluginHarness(null, clock, dns, SqliteStateStore.inMemory(clock));
    }

    private record Services(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients, Dns dns,
            StateStore store) implements ServerServices {}

    /**
     * The plugin {@code name} configured with {@code settings} (the TOML lines of its table after
     * {@code name = ...}); unknown keys and bad values throw as at start-up.
     */
    @SuppressWarnings("unchecked")
    public <P extends Plugin> P plugin(String name, String settings) {
        // the plugin's table first, so an error names the line of the settings as the test wrote them (+ 2)
        String toml = "[[plugin]]\nname = \"" + name + "\"\n" + settings + "\n\n" + LOCAL;
        Path base = dir != null ? dir : Path.of(".");
        Config config = ConfigLoader.parse("test.toml", toml, base);
        Config.PluginEntry entry = config.plugins().getFirst();
        var services = new Services(clock, TestServer.HOSTNAME, dir != null ? dir : Path.of("unused"),
                new ConfiguredRecipients(config.local()), dns, store);
        P plugin = (P) factory(name).create(entry.settings(), services);
        entry.finish().run();
        return plugin;
    }

    private static PluginFactory factory(String name) {
        for (PluginFactory f : ServiceLoader.load(PluginFactory.class))
            if (f.name().equals(name)) return f;
        throw new IllegalArgumentException("no plugin factory is called \"" + name + "\"");
    }

    @Override public void close() { store.close(); }
}
