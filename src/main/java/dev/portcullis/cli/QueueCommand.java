package dev.portcullis.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.delivery.DeliveryAgent;
import dev.portcullis.hook.Address;
import dev.portcullis.outbound.AdminBounce;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.RetryState;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/*
 * portcullis queue: the administrator's view of and hand on the spool, as mailq / postqueue / postsuper do it.
 *
 * A separate process from the server, working on the same spool files through FileSpool (data_dir from
 * --config), never through SMTP. Every change is one of the spool's atomic file operations, which the server
 * tolerates at any moment:
 *   hold     FileSpool.hold: <id>.hold renamed into place; delivery leaves the message alone from its next look
 *   release  retry times reset to now (state/<id>, atomic rename), then <id>.hold deleted, then a rescan request
 *   delete   FileSpool.remove (message first); with --rcpt-domain only those recipients are marked done
 *   bounce   the DSN stored in the spool first, then the recipients marked done, then the message removed when
 *            nothing is left (AdminBounce, Bouncer's order: a crash sends the report twice, never zero times)
 * A delivery attempt already under way when a message is deleted or bounced runs to its end: the server notices
 * the message is gone when it records the outcome (NoSuchFileException, logged, no retry loop). So a recipient
 * can end up delivered and bounced; never is a message lost that nobody asked to delete.
 *
 * The server is asked to act at once through empty request files in the queue folder, which its delivery agent
 * looks for every second (DeliveryAgent.FLUSH_REQUEST, RESCAN_REQUEST): flush makes every waiting recipient
 * due, rescan picks up released messages and stored bounces.
 *
 * The tool never creates the queue folders: when the server has never run with this data_dir, the queue is
 * simply empty (folders created by root here would lock a server running as another user out of them).
 */
/**
 * {@code portcullis queue}: list, show, flush, hold, release, delete and bounce queued messages while the server
 * runs. Exit codes follow sysexits.h: 0 done, 64 usage, 67 no such queued message, 74 queue trouble, 78
 * configuration error. Errors are one line each on standard error. See docs/queue.md.
 */
@Command(name = "queue", exitCodeOnInvalidInput = 64,
        description = {"Look at and act on the mail queue (like mailq, postqueue -f and postsuper) while the server runs.",
                "Exit codes: 0 done, 64 usage, 67 no such queued message, 74 queue trouble, 78 configuration. See docs/queue.md."},
        subcommands = {QueueCommand.ListQueue.class, QueueCommand.Show.class, QueueCommand.Flush.class,
                QueueCommand.Hold.class, QueueCommand.Release.class, QueueCommand.Delete.class, QueueCommand.Bounce.class})
public final class QueueCommand implements Callable<Integer> {
    static final int HEADER_CAP = 64 * 1024;

    @Spec CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Override public Integer call() {
        System.err.println("portcullis: queue: a subcommand is required");
        spec.commandLine().usage(System.err);
        return 64;
    }

    /** Thrown for a wrong combination of options: exit 64. */
    static final class Usage extends Exception {
        Usage(String message) { super(message, null, false, false); }
    }

    /** What every subcommand shares: --config, the spool, and turning errors into exit codes. */
    abstract static class Base implements Callable<Integer> {
        @Mixin ConfigOption config;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        Config cfg;
        Path queueDir;
        final Clock clock = Clock.systemUTC();

        /** @param spool the queue, or null when it does not exist yet (the server never ran with this data_dir) */
        abstract int run(Spool spool) throws IOException, Usage;

        @Override public final Integer call() {
            try {
                cfg = config.load();
            } catch (ConfigException e) {
                return fail(78, "configuration error: " + e.getMessage());
            }
            queueDir = cfg.queueDir();
            // What is done is printed on standard output; the spool's and the bouncer's INFO lines would only
            // repeat it on standard error. Restored after: in tests a server shares this JVM and its loggers.
            Logger root = Logger.getLogger("");
            Level level = root.getLevel();
            root.setLevel(Level.WARNING);
            try {
                Spool spool = Files.isDirectory(queueDir.resolve("messages")) ? new FileSpool(queueDir) : null;
                return run(spool);
            } catch (Usage e) {
                return fail(64, e.getMessage());
            } catch (IOException | RuntimeException e) {
                return fail(74, "queue " + queueDir + ": " + e);
            } finally {
                root.setLevel(level);
            }
        }

        static int fail(int code, String message) {
            System.err.println("portcullis: queue: " + message);
            return code;
        }

        /** Asks the running server to act now (see the class comment); false when it did not take it within {@code wait}. */
        boolean request(String name, Duration wait) throws IOException {
            Path file = queueDir.resolve(name);
            Files.write(file, new byte[0]); // its existence is the request; several at once are served by one look
            long deadline = System.nanoTime() + wait.toNanos();
            while (Files.exists(file)) {
                if (System.nanoTime() >= deadline) return false;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    // ---- selection ----------------------------------------------------------------------------------

    /** Which messages a command acts on: ids, or every message matching --sender and --rcpt-domain, or --all. */
    static final class Selection {
        private static final Pattern DOMAIN = Pattern.compile("[^\\s@<>\\[\\]]+");

        @Parameters(paramLabel = "ID", arity = "0..*", description = "Queue ids (as queue list shows them).")
        List<String> ids = new ArrayList<>();

        @Option(names = "--sender", paramLabel = "ADDRESS",
                description = "Messages from this envelope sender ('<>' for the null sender).")
        String sender;

        @Option(names = "--rcpt-domain", paramLabel = "DOMAIN",
                description = "Messages with a recipient not yet done in this domain (hold, release), or only those "
                        + "recipients (delete, bounce).")
        String rcptDomain;

        @Option(names = "--all", description = "Every queued message.")
        boolean all;

        /** What was found: the messages to act on, ids given but not queued, and messages that cannot be read. */
        record Found(List<QueuedMessage> messages, List<String> unknown, Map<String, IOException> unreadable) {}

        boolean filtered() { return sender != null || rcptDomain != null; }

        /** Checks the combination; {@code emptyMeansAll} for list, where no selection is the whole queue. */
        void check(boolean emptyMeansAll) throws Usage {
            if (all && (!ids.isEmpty() || filtered()))
                throw new Usage("--all cannot be combined with queue ids, --sender or --rcpt-domain");
            if (!all && ids.isEmpty() && !filtered() && !emptyMeansAll)
                throw new Usage("say which messages: queue ids, --sender ADDRESS, --rcpt-domain DOMAIN or --all");
            if (rcptDomain != null && !DOMAIN.matcher(domain()).matches())
                throw new Usage("--rcpt-domain must be a domain name: " + QueuedMessage.clean(rcptDomain));
        }

        /** The domain as recipients' domains are kept: lower case, without a leading '@' or a final dot. */
        String domain() {
            String d = rcptDomain.strip().toLowerCase(Locale.ROOT);
            if (d.startsWith("@")) d = d.substring(1);
            if (d.endsWith(".")) d = d.substring(0, d.length() - 1);
            return d;
        }

        /** The sender to match, without angle brackets; "" is the null sender. */
        private String senderMailbox() {
            String s = sender.strip();
            if (s.startsWith("<") && s.endsWith(">")) s = s.substring(1, s.length() - 1);
            return s;
        }

        boolean matchesDomain(Address r) { return r.domain().equals(domain()); }

        /** The recipients of {@code m} this selection is about: those not done, in --rcpt-domain if given. */
        List<Address> targets(QueuedMessage m) {
            return m.pending().stream().filter(r -> rcptDomain == null || matchesDomain(r)).toList();
        }

        Found find(Spool spool) throws IOException {
            List<QueuedMessage> out = new ArrayList<>();
            List<String> unknown = new ArrayList<>();
            Map<String, IOException> unreadable = new LinkedHashMap<>();
            List<String> candidates = !ids.isEmpty() ? ids.stream().distinct().toList()
                    : spool == null ? List.of() : spool.list();
            for (String id : candidates) {
                Optional<QueuedMessage> m;
                try {
                    m = spool == null ? Optional.empty() : QueuedMessage.read(spool, id);
                } catch (IllegalArgumentException notAnId) {
                    m = Optional.empty();
                } catch (IOException e) {
                    unreadable.put(id, e);
                    continue;
                }
                if (m.isEmpty()) {
                    if (!ids.isEmpty()) unknown.add(id); // listed ones that vanished were delivered meanwhile
                    continue;
                }
                if (matches(m.get())) out.add(m.get());
            }
            return new Found(out, unknown, unreadable);
        }

        private boolean matches(QueuedMessage m) {
            if (sender != null && !m.envelope().sender().mailbox().equalsIgnoreCase(senderMailbox())) return false;
            return rcptDomain == null || !targets(m).isEmpty();
        }
    }

    /** A command acting on selected messages one by one. */
    abstract static class Acting extends Base {
        @Mixin Selection select;

        int code;

        /** Acts on one message; prints one line saying what was done. */
        abstract void act(Spool spool, QueuedMessage m) throws IOException;

        /** A message whose envelope cannot be read: an error, unless the command can act without it. */
        void unreadable(Spool spool, String id, IOException e) throws IOException {
            error(74, id + ": cannot read the queued message: " + e.getMessage());
        }

        /** After every message: requests to the server and the like. */
        void after() throws IOException {}

        void checkOptions() throws Usage {}

        @Override int run(Spool spool) throws IOException, Usage {
            select.check(false);
            checkOptions();
            Selection.Found found = select.find(spool);
            for (String id : found.unknown()) error(67, "no queued message " + QueuedMessage.clean(id));
            if (found.messages().isEmpty() && found.unknown().isEmpty() && found.unreadable().isEmpty())
                System.out.println("no queued message matches");
            for (var u : found.unreadable().entrySet()) unreadable(spool, u.getKey(), u.getValue());
            for (QueuedMessage m : found.messages()) {
                try {
                    act(spool, m);
                } catch (NoSuchFileException gone) {
                    // delivered or removed by the server since it was read: nothing left to act on
                    System.out.println(m.id() + ": no longer queued (delivered or removed meanwhile)");
                } catch (IOException | RuntimeException e) {
                    error(74, m.id() + ": " + e);
                }
            }
            after();
            return code;
        }

        /** Reports one error and remembers the exit code (trouble with the queue wins over an unknown id). */
        void error(int exit, String message) {
            System.err.println("portcullis: queue: " + message);
            if (code != 74) code = exit;
        }
    }

    // ---- list and show ------------------------------------------------------------------------------

    @Command(name = "list", aliases = "mailq", exitCodeOnInvalidInput = 64, description = {
            "List queued messages like mailq: ID, SIZE (bytes), AGE and SENDER, then each recipient indented with "
                    + "its state (pending, done, held) and, from the retry state, attempts, next attempt and last error.",
            "Without a selection: the whole queue."})
    static final class ListQueue extends Base {
        @Mixin Selection select;

        @Option(names = {"-j", "--json"}, description = "One JSON object: {\"messages\": [...]}.")
        boolean json;

        @Override int run(Spool spool) throws IOException, Usage {
            select.check(true);
            Selection.Found found = select.find(spool);
            int code = 0;
            for (String id : found.unknown()) {
                System.err.println("portcullis: queue: no queued message " + QueuedMessage.clean(id));
                code = 67;
            }
            for (var u : found.unreadable().entrySet()) {
                System.err.println("portcullis: queue: " + u.getKey() + ": cannot read the queued message: " + u.getValue().getMessage());
                code = 74;
            }
            Instant now = clock.instant();
            List<QueuedMessage> all = found.messages();
            if (json) {
                ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode root = mapper.createObjectNode();
                ArrayNode messages = root.putArray("messages");
                for (QueuedMessage m : all) messages.add(m.json(mapper, now));
                System.out.println(mapper.writeValueAsString(root));
                return code;
            }
            if (all.isEmpty()) {
                System.out.println(select.all || select.ids.isEmpty() && !select.filtered() ? "Mail queue is empty" : "no queued message matches");
                return code;
            }
            int idWidth = Math.max(2, all.stream().mapToInt(m -> m.id().length()).max().orElse(16));
            System.out.println(String.format("%-" + idWidth + "s  %8s  %4s  %s", "ID", "SIZE", "AGE", "SENDER"));
            long bytes = 0;
            int held = 0;
            for (QueuedMessage m : all) {
                m.listLines(idWidth, now).forEach(System.out::println);
                bytes += m.size();
                if (m.held() != null) held++;
            }
            System.out.println("-- " + all.size() + (all.size() == 1 ? " message, " : " messages, ") + bytes + " bytes"
                    + (held == 0 ? "" : ", " + held + " held"));
            return code;
        }
    }

    @Command(name = "show", exitCodeOnInvalidInput = 64, description = {
            "Show queued messages: envelope, hold reason, retry state per recipient, and the header section."})
    static final class Show extends Base {
        @Parameters(paramLabel = "ID", arity = "1..*", description = "Queue ids.")
        List<String> ids;

        @Option(names = {"-j", "--json"}, description = "JSON: the message as queue list --json shows it, plus \"header\".")
        boolean json;

        @Override int run(Spool spool) throws IOException {
            int code = 0;
            Instant now = clock.instant();
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            boolean first = true;
            for (String id : ids) {
                Optional<QueuedMessage> found;
                String header;
                try {
                    found = spool == null ? Optional.empty() : QueuedMessage.read(spool, id);
                    header = found.isEmpty() ? null : QueuedMessage.header(spool, id, HEADER_CAP);
                } catch (IllegalArgumentException | NoSuchFileException notQueued) {
                    found = Optional.empty();
                    header = null;
                } catch (IOException e) {
                    System.err.println("portcullis: queue: " + id + ": cannot read the queued message: " + e.getMessage());
                    code = 74;
                    continue;
                }
                if (found.isEmpty()) {
                    System.err.println("portcullis: queue: no queued message " + QueuedMessage.clean(id));
                    if (code != 74) code = 67;
                    continue;
                }
                QueuedMessage m = found.get();
                if (json) {
                    ObjectNode o = m.json(mapper, now);
                    o.put("header", header);
                    System.out.println(mapper.writeValueAsString(o));
                    continue;
                }
                if (!first) System.out.println();
                first = false;
                m.showLines(now).forEach(System.out::println);
                System.out.println();
                for (String line : header.split("\r?\n", -1)) System.out.println(QueuedMessage.clean(line));
            }
            return code;
        }
    }

    // ---- flush --------------------------------------------------------------------------------------

    @Command(name = "flush", exitCodeOnInvalidInput = 64, description = {
            "Make the running server retry every deferred recipient now, whatever its next retry time "
                    + "(like sendmail -q and postqueue -f). Held messages stay held."})
    static final class Flush extends Base {
        @Option(names = "--wait", paramLabel = "SECONDS", defaultValue = "5",
                description = "How long to wait for the server to take the request (default: ${DEFAULT-VALUE}; 0: do not wait).")
        int waitSeconds;

        @Override int run(Spool spool) throws IOException, Usage {
            if (waitSeconds < 0) throw new Usage("--wait must not be negative");
            if (spool == null) {
                System.out.println("Mail queue is empty: nothing to flush");
                return 0;
            }
            int queued = spool.list().size();
            boolean taken = request(DeliveryAgent.FLUSH_REQUEST, Duration.ofSeconds(waitSeconds));
            if (taken) System.out.println("flush: the server is retrying the queue now (" + queued + " queued message"
                    + (queued == 1 ? ")" : "s)"));
            else System.out.println("flush requested (" + queued + " queued message" + (queued == 1 ? "" : "s")
                    + "); no running server took it" + (waitSeconds == 0 ? "" : " within " + waitSeconds + "s")
                    + ": it is done when the server next looks");
            return 0;
        }
    }

    // ---- hold, release ------------------------------------------------------------------------------

    @Command(name = "hold", exitCodeOnInvalidInput = 64, description = {
            "Put messages on hold: delivery leaves them alone (across restarts) until released. "
                    + "An attempt already under way finishes."})
    static final class Hold extends Acting {
        @Option(names = "--reason", paramLabel = "TEXT", defaultValue = "held by the administrator",
                description = "Why, shown by queue list and show (default: ${DEFAULT-VALUE}).")
        String reason;

        @Override void act(Spool spool, QueuedMessage m) throws IOException {
            if (m.held() != null) {
                System.out.println(m.id() + ": already held (" + QueuedMessage.clean(m.held()) + ")");
                return;
            }
            spool.hold(m.id(), reason);
            System.out.println("held " + m.id());
        }
    }

    @Command(name = "release", exitCodeOnInvalidInput = 64, description = {
            "Release held messages: the server delivers them at once (their retry times are reset)."})
    static final class Release extends Acting {
        private boolean any;

        @Override void act(Spool spool, QueuedMessage m) throws IOException {
            if (m.held() == null) {
                System.out.println(m.id() + ": not held");
                return;
            }
            // Before the hold goes: a server that let go of the held message reads this state when it takes it
            // again, so its recipients are due at once. One still holding it in memory (it has not looked since the
            // hold) keeps its own schedule and overwrites this; harmless either way.
            Instant now = clock.instant();
            if (m.state().values().stream().anyMatch(s -> s.nextAttempt().isAfter(now))) {
                List<RetryState> due = m.state().values().stream().map(s -> s.nextAttempt().isAfter(now)
                        ? new RetryState(s.recipient(), s.attempts(), now, s.status(), s.remoteMta(), s.lastError(), s.warned())
                        : s).toList();
                spool.saveRetryState(m.id(), due);
            }
            spool.release(m.id());
            any = true;
            System.out.println("released " + m.id());
        }

        @Override void after() throws IOException {
            if (any) request(DeliveryAgent.RESCAN_REQUEST, Duration.ZERO);
        }
    }

    // ---- delete, bounce -----------------------------------------------------------------------------

    @Command(name = "delete", exitCodeOnInvalidInput = 64, description = {
            "Delete messages from the queue: they are never delivered, and nobody is told (see bounce). "
                    + "With --rcpt-domain only the recipients in that domain are dropped; the message goes when none is left.",
            "--all needs --yes."})
    static final class Delete extends Acting {
        @Option(names = "--yes", description = "Confirm --all.")
        boolean yes;

        @Override void checkOptions() throws Usage {
            if (select.all && !yes) throw new Usage("delete --all removes every queued message; add --yes to confirm");
        }

        @Override void act(Spool spool, QueuedMessage m) throws IOException {
            if (select.rcptDomain == null) {
                spool.remove(m.id());
                System.out.println("deleted " + m.id() + " from " + QueuedMessage.clean(m.envelope().sender().path())
                        + " (" + count(m.pending().size(), "recipient") + " not done)");
                return;
            }
            List<Address> drop = select.targets(m);
            for (Address r : drop) spool.markDone(m.id(), r);
            if (removeIfDone(spool, m.id())) {
                System.out.println("deleted " + m.id() + " (" + count(drop.size(), "recipient") + " in " + select.domain() + ")");
            } else {
                System.out.println(m.id() + ": dropped " + String.join(", ", drop.stream().map(r -> QueuedMessage.clean(r.path())).toList())
                        + "; the other recipients stay queued");
            }
        }

        /** A message with an envelope we cannot read can still be deleted by its id. */
        @Override void unreadable(Spool spool, String id, IOException e) throws IOException {
            if (select.ids.isEmpty() || select.filtered()) {
                super.unreadable(spool, id, e);
                return;
            }
            spool.remove(id);
            System.out.println("deleted " + id + " (unreadable: " + QueuedMessage.clean(String.valueOf(e.getMessage())) + ")");
        }
    }

    @Command(name = "bounce", exitCodeOnInvalidInput = 64, description = {
            "Give up on messages: every recipient not done yet fails with 5.0.0 \"bounced by the administrator\", "
                    + "and the sender gets an RFC 3464 bounce (never the null sender: such a message is only removed). "
                    + "With --rcpt-domain only the recipients in that domain.",
            "--all needs --yes."})
    static final class Bounce extends Acting {
        @Option(names = "--yes", description = "Confirm --all.")
        boolean yes;

        private boolean stored;

        @Override void checkOptions() throws Usage {
            if (select.all && !yes) throw new Usage("bounce --all gives up on every queued message; add --yes to confirm");
        }

        @Override void act(Spool spool, QueuedMessage m) throws IOException {
            List<Address> targets = select.targets(m);
            if (targets.isEmpty()) {
                System.out.println(m.id() + ": no recipient left to bounce");
                return;
            }
            Map<Address, String> failed = new LinkedHashMap<>();
            for (Address r : targets) failed.put(r, m.lastError(r));
            String dsnId = AdminBounce.store(spool, cfg.hostname(), m.envelope(), failed, clock);
            if (dsnId != null) stored = true;
            for (Address r : targets) spool.markDone(m.id(), r);
            boolean removed = removeIfDone(spool, m.id());
            String who = count(targets.size(), "recipient");
            System.out.println(dsnId != null
                    ? "bounced " + m.id() + ": " + who + ", report to " + QueuedMessage.clean(m.envelope().sender().path())
                            + " queued as " + dsnId + (removed ? "" : "; the other recipients stay queued")
                    : m.id() + ": from <>: " + who + " dropped, no report (never a bounce to the null sender)"
                            + (removed ? "; removed" : "; the other recipients stay queued"));
        }

        @Override void after() throws IOException {
            if (stored) request(DeliveryAgent.RESCAN_REQUEST, Duration.ZERO); // deliver the reports now
        }
    }

    /** Removes the message when every recipient is done; true if it is gone. */
    static boolean removeIfDone(Spool spool, String id) throws IOException {
        try {
            if (!done(spool, id)) return false;
        } catch (NoSuchFileException gone) {
            return true;
        }
        spool.remove(id);
        return true;
    }

    private static boolean done(Spool spool, String id) throws IOException {
        return spool.done(id).containsAll(spool.envelope(id).recipients());
    }

    static String count(int n, String what) {
        return n + " " + what + (n == 1 ? "" : "s");
    }
}
