package dev.portcullis.cli;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.server.Server;
import dev.portcullis.spf.SpfEvaluator;
import dev.portcullis.spf.SpfVerdict;
import java.net.InetAddress;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Explains a decision: runs the connection and sender checks of the live configuration for a given client
 * IP, HELO and sender (and optionally recipient), and prints what the server would answer and why.
 */
@Command(name = "check", description = {
        "Run the configured checks for a pretend client and print the SMTP replies and the decision trace.",
        "Uses the configuration's DNS; stores nothing (greylisting and karma history start empty)."})
public final class CheckCommand implements Callable<Integer> {
    @Mixin ConfigOption config;

    @Option(names = "--ip", required = true, description = "The client's IP address.")
    String ip;

    @Option(names = "--helo", defaultValue = "client.invalid", description = "The HELO/EHLO name (default: ${DEFAULT-VALUE}).")
    String helo;

    @Option(names = "--from", defaultValue = "", description = "MAIL FROM address (default: the null sender).")
    String from;

    @Option(names = "--rcpt", description = "RCPT TO address (optional).")
    String rcpt;

    @Option(names = "--spf", description = "Evaluate SPF alone (like spfquery): the result, explanation and Received-SPF.")
    boolean spfOnly;

    @Override public Integer call() {
        Logger.getLogger("").setLevel(Level.WARNING); // the trace printed below says it all
        InetAddress client;
        client = dev.portcullis.net.IpLiteral.parse(ip);
        if (client == null) {
            System.err.println("portcullis: --ip must be an IP address: " + ip);
            return 64;
        }
        Config c;
        try {
            c = config.load();
        } catch (ConfigException e) {
            System.err.println("portcullis: configuration error: " + e.getMessage());
            return 78;
        }
        if (spfOnly) {
            var spf = new SpfEvaluator(Server.dns(c), c.hostname());
            SpfVerdict v = spf.check(client, from, helo);
            System.out.println(v.result().headerName());
            System.out.println("  domain       " + v.domain());
            System.out.println("  reason       " + v.reason());
            if (v.explanation() != null) System.out.println("  explanation  " + v.explanation());
            System.out.println("Received-SPF: " + spf.receivedSpfHeader(v, client, from, helo));
            return 0;
        }
        var result = Server.dryRun(c, client, helo, from, rcpt);
        System.out.println("client " + client.getHostAddress() + " helo " + helo + " from <" + from + ">"
                + (rcpt == null ? "" : " rcpt <" + rcpt + ">"));
        System.out.println();
        System.out.println("SMTP dialogue:");
        for (String line : result.transcript().split("\r\n")) System.out.println("  S: " + line);
        System.out.println();
        System.out.println("decision trace (score " + result.trace().score() + "):");
        for (DecisionTrace.Entry e : result.trace().entries())
            System.out.printf("  %-12s %-10s %-10s %6s  %s%n", e.plugin(), e.phase(), e.result(),
                    e.score() == 0 ? "" : (e.score() > 0 ? "+" : "") + e.score(), e.reason() == null ? "" : e.reason());
        System.out.println();
        System.out.println("one line: " + result.trace());
        return 0;
    }
}
