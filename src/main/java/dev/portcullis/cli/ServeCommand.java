package dev.portcullis.cli;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.server.Server;
import dev.portcullis.tls.TlsConfigException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", description = "Start the mail server and run until stopped (SIGTERM or Ctrl-C).")
public final class ServeCommand implements Callable<Integer> {
    @Mixin ConfigOption config;

    @Option(names = "--verbose", description = "Log debugging detail.")
    boolean verbose;

    @Override public Integer call() throws Exception {
        Logging.configure(verbose);
        Config cfg;
        try {
            cfg = config.load();
        } catch (ConfigException e) {
            System.err.println("portcullis: configuration error: " + e.getMessage());
            return 78; // EX_CONFIG
        }
        Server server;
        try {
            server = Server.start(cfg);
        } catch (ConfigException | TlsConfigException e) {
            System.err.println("portcullis: configuration error: " + e.getMessage());
            return 78;
        } catch (java.net.BindException e) {
            System.err.println("portcullis: cannot listen: " + e.getMessage() + " (" + cfg.listeners() + ")");
            return 71; // EX_OSERR
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            Logging.flush();
            stopped.countDown();
        }));
        System.err.println("portcullis: serving " + cfg.hostname() + " on " + cfg.listeners().stream()
                .map(l -> l.address() + ":" + l.port() + " (" + l.role() + ")").toList()
                + ", data in " + cfg.dataDir() + ", config: " + config.describe());
        stopped.await();
        return 0;
    }
}
