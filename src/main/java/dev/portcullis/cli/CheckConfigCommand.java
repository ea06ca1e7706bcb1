package dev.portcullis.cli;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.server.Server;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "check-config", description = "Validate the configuration and print a summary; exit 78 on an error.")
public final class CheckConfigCommand implements Callable<Integer> {
    @Mixin ConfigOption config;

    @Override public Integer call() {
        try {
            Config c = config.load();
            Server.checkPlugins(c);
            System.out.println("ok: " + config.describe());
            System.out.println("  hostname  " + c.hostname());
            System.out.println("  data      " + c.dataDir());
            c.listeners().forEach(l -> System.out.println("  listener  " + l.address() + ":" + l.port() + " " + l.role()));
            System.out.println("  domains   " + String.join(", ", c.local().domains()));
            System.out.println("  plugins   " + String.join(" -> ", c.plugins().stream().map(Config.PluginEntry::name).toList()));
            return 0;
        } catch (ConfigException e) {
            System.err.println("portcullis: configuration error: " + e.getMessage());
            return 78;
        }
    }
}
