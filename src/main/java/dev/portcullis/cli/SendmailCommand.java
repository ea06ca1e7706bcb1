package dev.portcullis.cli;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.pickup.Maildrop;
import dev.portcullis.pickup.Submission;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The sendmail-compatible command for programs on this host (cron, PHP's mail(), scripts). It writes the
 * message into the maildrop (data_dir/maildrop, see {@link Maildrop}) and exits 0 once it is on disk; the
 * server picks it up, now or when it next starts. Nothing is written to standard output; exit codes are
 * sysexits.h's: 64 usage, 65 bad message, 74 cannot read input, 75 cannot write the maildrop (try again),
 * 78 configuration. See docs/sendmail.md.
 */
@Command(name = "sendmail", exitCodeOnInvalidInput = 64, exitCodeOnExecutionException = 70,
        description = {
                "Submit a message read from standard input, like sendmail(8).",
                "It is queued in data_dir/maildrop for the server to pick up (now, or when it next starts), "
                        + "and counts against the local user running this command.",
                "Accepted and ignored: every -o option but -oi (-odi, -odb, -oem...), -bm, -v, -U, -B TYPE, "
                        + "-N DSN, -R RET, -V ENVID.",
                "Exit codes: 0 queued, 64 usage, 65 bad message, 74 cannot read input, 75 cannot write the "
                        + "maildrop (try again), 78 configuration. See docs/sendmail.md.",
                ""})
public final class SendmailCommand implements Callable<Integer> {
    @Mixin ConfigOption config;

    @Option(names = "--help", usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "-t", description = "Take recipients from the To:, Cc: and Bcc: headers (and remove Bcc:).")
    boolean extractRecipients;

    @Option(names = "-i", description = "A line with a single '.' does not end the message (only end of input does).")
    boolean ignoreDots;

    @Option(names = "-f", paramLabel = "SENDER", description = "Envelope sender (default: user@hostname); '<>' for none.")
    String sender;

    @Option(names = "-r", paramLabel = "SENDER", hidden = true, description = "Obsolete synonym of -f.")
    String senderObsolete;

    @Option(names = "-F", paramLabel = "NAME", description = "Full name for the From: header added when there is none.")
    String fullName;

    @Option(names = "-o", paramLabel = "OPTION", description = "-oi is -i; every other -o option is ignored.")
    List<String> sendmailOptions = new ArrayList<>();

    @Option(names = "-b", paramLabel = "MODE", description = "Only -bm (read a message from standard input), the default.")
    String mode;

    @Option(names = "-v", hidden = true) boolean[] verbose;
    @Option(names = "-U", hidden = true) boolean initialSubmission;
    @Option(names = {"-B", "-N", "-R", "-V"}, hidden = true) List<String> ignoredWithValue;

    @Parameters(paramLabel = "RECIPIENT", description = "Recipient addresses (added to those of -t).")
    List<String> recipients = new ArrayList<>();

    @Override public Integer call() {
        if (mode != null && !mode.equals("m")) {
            return fail(Submission.EX_USAGE, "-b" + mode + " is not supported: only -bm (read a message from standard input)");
        }
        if (sender != null && senderObsolete != null && !sender.equals(senderObsolete)) {
            return fail(Submission.EX_USAGE, "-f and -r give two different senders");
        }
        Config c;
        try {
            c = config.load();
        } catch (ConfigException e) {
            return fail(78, "configuration error: " + e.getMessage());
        }
        boolean dotEnds = !(ignoreDots || sendmailOptions.contains("i"));
        String user = System.getProperty("user.name");
        String flags = (extractRecipients ? "t" : "") + (dotEnds ? "" : "i");
        var request = new Submission.Request(extractRecipients, dotEnds, sender != null ? sender : senderObsolete,
                fullName, recipients, user, c.hostname(), c.smtp().maxMessageSize(), Clock.systemDefaultZone());
        Submission.Result result;
        try {
            result = Submission.prepare(request, System.in);
        } catch (Submission.Refused e) {
            return fail(e.exitCode(), e.getMessage());
        } catch (IOException e) {
            return fail(74, "cannot read the message from standard input: " + e.getMessage());
        }
        Path folder = Maildrop.folder(c.dataDir());
        try {
            new Maildrop(folder).write(new Maildrop.Entry(result.sender(), result.recipients(), user, flags, result.message()));
        } catch (IOException e) {
            return fail(75, "cannot queue the message in " + folder + ": " + describe(e) + "; nothing was sent");
        }
        return 0;
    }

    private static int fail(int code, String message) {
        System.err.println("portcullis sendmail: " + message.replaceAll("[\\r\\n]+", " "));
        return code;
    }

    private static String describe(IOException e) {
        if (e instanceof AccessDeniedException a) return "permission denied: " + a.getFile();
        if (e instanceof FileSystemException f) {
            String kind = switch (e) {
                case java.nio.file.NoSuchFileException n -> "no such file or folder";
                case java.nio.file.NotDirectoryException n -> "not a folder";
                case java.nio.file.FileAlreadyExistsException n -> "already exists";
                default -> e.getClass().getSimpleName();
            };
            return kind + ": " + f.getFile() + (f.getReason() == null ? "" : " (" + f.getReason() + ")");
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
