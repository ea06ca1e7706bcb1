package dev.portcullis.plugins.dnsbl;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.StateStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** Builds a plugin from a TOML [[plugin]] table exactly as the server does, with test services. */
final class Plugins {
    private Plugins() {}

    /** A clock the test moves by hand. */
    static final class TestClock extends Clock {
        private volatile Instant now = Instant.parse("2025-01-01T00:00:00Z");

        void advance(Duration d) { now = now.plus(d); }

        @Override public Instant instant() { return now; }
        @Override public ZoneId getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(ZoneId zone) { return this; }
    }

    record Services(Clock clock, Dns dns) implements ServerServices {
        @Override public String hostname() { return "mx.test"; }
        @Override public Path dataDir() { return Path.of("unused"); }
        @Override public LocalRecipients localRecipients() { throw new UnsupportedOperationException(); }
        @Override public StateStore store() { throw new UnsupportedOperationException(); }
    }

    /** Parses {@code [[plugin]] name = ...} plus {@code body}, creates the plugin and checks for unknown keys. */
    static <P extends Plugin> P create(PluginFactory factory, String body, Dns dns, Clock clock) {
        String toml = "[[plugin]]\nname = \"" + factory.name() + "\"\n" + body + "\n";
        Config config = ConfigLoader.parse("test.toml", toml, Path.of("."));
        Config.PluginEntry entry = config.plugins().getFirst();
        @SuppressWarnings("unchecked")
        P plugin = (P) factory.create(entry.settings(), new Services(clock, dns));
        entry.finish().run();
        return plugin;
    }
}
