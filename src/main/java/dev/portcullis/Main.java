package dev.portcullis;

import dev.portcullis.cli.CheckCommand;
import dev.portcullis.cli.CheckConfigCommand;
import dev.portcullis.cli.DefaultConfigCommand;
import dev.portcullis.cli.ServeCommand;
import dev.portcullis.cli.UserCommand;
import dev.portcullis.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code portcullis} command: wiring only; each subcommand lives in dev.portcullis.cli. */
@Command(name = "portcullis", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "A mail server that stops spam at the door.",
        subcommands = {ServeCommand.class, CheckConfigCommand.class, CheckCommand.class, DefaultConfigCommand.class,
                UserCommand.class, dev.portcullis.cli.SendmailCommand.class, dev.portcullis.cli.QueueCommand.class})
public final class Main {
    public static void main(String[] args) {
        // before anything logs: JUL reads this once, when its LogManager is first used
        if (System.getProperty("java.util.logging.manager") == null)
            System.setProperty("java.util.logging.manager", dev.portcullis.cli.ServerLogManager.class.getName());
        System.exit(run(args));
    }

    public static int run(String... args) {
        return new CommandLine(new Main()).execute(args);
    }
}
