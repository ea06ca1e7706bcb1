package dev.portcullis.cli;

import dev.portcullis.accounts.Account;
import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.store.SqliteStateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * {@code portcullis user}: manages the accounts in data_dir/accounts.db while the server runs (the server reads
 * the file at each lookup, so no restart). Exit codes follow sysexits.h: 0 done, 64 usage, 65 bad data,
 * 67 no such account, 74 database trouble, 78 configuration error. Errors are one line on standard error.
 */
@Command(name = "user", exitCodeOnInvalidInput = 64,
        description = {"Manage accounts: their passwords, addresses and standing. Changes apply to a running server at once.",
                "Passwords are read at the terminal (typed twice) or as the first line of standard input, never from the command line."},
        subcommands = {UserCommand.Add.class, UserCommand.Passwd.class, UserCommand.Address.class, UserCommand.Delete.class,
                UserCommand.ListAccounts.class, UserCommand.Hold.class, UserCommand.Release.class})
public final class UserCommand implements Callable<Integer> {
    /** Kept by the server's login guard in data_dir/state.db: key = account name, value = ISO-8601 end of the lockout. */
    static final String LOCKOUT = dev.portcullis.accounts.LoginGuard.ACCOUNT_LOCKOUT; // written by the server
    /** The login guard's failure count per account; cleared by release so one more failure does not re-lock. */
    static final String FAILURES = dev.portcullis.accounts.LoginGuard.ACCOUNT_FAILURES;

    @Spec CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Override public Integer call() {
        System.err.println("portcullis: user: a subcommand is required");
        spec.commandLine().usage(System.err);
        return 64;
    }

    /** What every subcommand shares: --config, loading, opening the accounts, and turning errors into exit codes. */
    abstract static class Base implements Callable<Integer> {
        @Mixin ConfigOption config;

        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        /** Caught here rather than by picocli, so a password typed as an argument is not echoed in the error. */
        @Unmatched List<String> unmatched = new ArrayList<>();

        Config cfg;

        abstract int run(SqliteAccounts accounts) throws PasswordInput.Refused;

        @Override public final Integer call() {
            if (!unmatched.isEmpty()) {
                List<String> shown = unmatched.stream()
                        .map(a -> a.startsWith("-") ? a.replaceFirst("=.*", "=…") : "(argument hidden)").toList();
                return fail(64, "unexpected " + String.join(" ", shown)
                        + " — a password is never taken from the command line: type it at the prompt or pipe it on standard input");
            }
            try {
                cfg = config.load();
            } catch (ConfigException e) {
                return fail(78, "configuration error: " + e.getMessage());
            }
            try (SqliteAccounts accounts = SqliteAccounts.open(cfg.dataDir(), cfg.local().domains())) {
                return run(accounts);
            } catch (PasswordInput.Refused e) {
                return fail(65, e.getMessage());
            } catch (NoSuchElementException e) {
                return fail(67, e.getMessage());
            } catch (IllegalArgumentException e) {
                return fail(65, e.getMessage());
            } catch (IllegalStateException e) {
                return fail(74, e.getMessage());
            }
        }

        static int fail(int code, String message) {
            System.err.println("portcullis: user: " + message);
            return code;
        }

        static void require(SqliteAccounts accounts, String name) {
            if (!SqliteAccounts.validName(name) || accounts.find(name).isEmpty())
                throw new NoSuchElementException("no account named " + name);
        }

        /** A name shared with [local] means one mailbox for both: allowed, but worth a word. */
        void noteConfigOverlap(String name) {
            if (cfg.local().users().contains(name))
                System.err.println("portcullis: user: note: " + name + " is also a [local] user; both use the mailbox " + name);
            if (cfg.local().aliases().containsKey(name))
                System.err.println("portcullis: user: note: " + name + " is also a [local] alias; the account's own addresses take precedence");
        }

        /** Deletes the account's lockout and failure count; true if a lockout was in force. */
        boolean clearLockout(String name) {
            Optional<SqliteStateStore> store = stateStore();
            if (store.isEmpty()) return false;
            try (SqliteStateStore s = store.get()) {
                boolean locked = s.get(LOCKOUT, name).isPresent();
                s.delete(LOCKOUT, name);
                s.delete(FAILURES, name);
                return locked;
            }
        }

        /** The login guard's state store, or none when the server has never created it. */
        Optional<SqliteStateStore> stateStore() {
            Path file = cfg.stateFile();
            return Files.exists(file) ? Optional.of(new SqliteStateStore(file, Clock.systemUTC())) : Optional.empty();
        }
    }

    abstract static class WithPassword extends Base {
        @Option(names = "--password-stdin", description = "Read the password from the first line of standard input "
                + "(the default when standard input is not a terminal).")
        boolean passwordStdin;

        char[] password(String name) throws PasswordInput.Refused {
            return PasswordInput.read(name, passwordStdin);
        }
    }

    @Command(name = "add", exitCodeOnInvalidInput = 64, description = {"Create an account, asking for its password.",
            "Without --address it gets NAME@<first local domain>."})
    static final class Add extends WithPassword {
        @Parameters(index = "0", paramLabel = "NAME", description = "Account and mailbox name: a-z 0-9 . _ -")
        String name;

        @Option(names = {"-a", "--address"}, paramLabel = "ADDRESS", description = "An address of the account, in a local domain (repeatable).")
        List<String> addresses = new ArrayList<>();

        @Override int run(SqliteAccounts accounts) throws PasswordInput.Refused {
            if (SqliteAccounts.validName(name) && accounts.find(name).isPresent())
                throw new IllegalArgumentException("account " + name + " exists already");
            List<String> checked = accounts.checkAddresses(name, addresses); // mistakes before the password prompt
            char[] pw = password(name);
            try {
                accounts.add(name, pw, checked);
            } finally {
                Arrays.fill(pw, '\0');
            }
            noteConfigOverlap(name);
            System.out.println("added " + name + " (" + String.join(", ", checked) + ")");
            return 0;
        }
    }

    @Command(name = "passwd", exitCodeOnInvalidInput = 64, description = "Set a new password for an account.")
    static final class Passwd extends WithPassword {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override int run(SqliteAccounts accounts) throws PasswordInput.Refused {
            require(accounts, name);
            char[] pw = password(name);
            try {
                accounts.setPassword(name, pw);
            } finally {
                Arrays.fill(pw, '\0');
            }
            System.out.println("password changed for " + name);
            return 0;
        }
    }

    @Command(name = "address", exitCodeOnInvalidInput = 64,
            description = "Set the addresses of an account (replacing the ones it has).")
    static final class Address extends Base {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Parameters(index = "1..*", arity = "1..*", paramLabel = "ADDRESS", description = "Addresses in local domains.")
        List<String> addresses;

        @Override int run(SqliteAccounts accounts) {
            require(accounts, name);
            accounts.setAddresses(name, addresses);
            System.out.println(name + ": " + String.join(", ", accounts.find(name).orElseThrow().addresses()));
            return 0;
        }
    }

    @Command(name = "delete", exitCodeOnInvalidInput = 64,
            description = "Delete an account and its addresses. Its mailbox stays on disk.")
    static final class Delete extends Base {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override int run(SqliteAccounts accounts) {
            require(accounts, name);
            accounts.delete(name);
            clearLockout(name); // a new account of the same name starts clean
            Path mailbox = cfg.mailDir().resolve(name);
            System.out.println("deleted " + name + (Files.isDirectory(mailbox) ? "; its mail is still in " + mailbox : ""));
            return 0;
        }
    }

    @Command(name = "list", exitCodeOnInvalidInput = 64, description = {
            "List the accounts: name, addresses, creation time, and HELD: <reason> or LOCKED OUT until <time> when so."})
    static final class ListAccounts extends Base {
        @Override int run(SqliteAccounts accounts) {
            List<Account> all = accounts.list();
            if (all.isEmpty()) return 0;
            int width = all.stream().mapToInt(a -> a.name().length()).max().orElse(0);
            Optional<SqliteStateStore> store = stateStore();
            try {
                Instant now = Instant.now();
                for (Account a : all) {
                    StringBuilder line = new StringBuilder(String.format("%-" + width + "s  %s  created %s", a.name(),
                            a.addresses().isEmpty() ? "(no address)" : String.join(",", a.addresses()), a.created()));
                    if (a.held()) line.append("  HELD: ").append(a.heldReason());
                    store.flatMap(s -> s.get(LOCKOUT, a.name())).map(v -> lockedUntil(v, now))
                            .ifPresent(until -> until.ifPresent(u -> line.append("  LOCKED OUT until ").append(u)));
                    System.out.println(line);
                }
            } finally {
                store.ifPresent(SqliteStateStore::close);
            }
            return 0;
        }

        private static Optional<String> lockedUntil(String value, Instant now) {
            try {
                Instant until = Instant.parse(value);
                return until.isAfter(now) ? Optional.of(until.truncatedTo(ChronoUnit.SECONDS).toString()) : Optional.empty();
            } catch (DateTimeParseException e) {
                return Optional.of(value); // not ours to judge: show what the server wrote
            }
        }
    }

    @Command(name = "hold", exitCodeOnInvalidInput = 64, description = {
            "Hold an account: it may not submit mail (the server answers 554) until released."})
    static final class Hold extends Base {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Parameters(index = "1..*", arity = "1..*", paramLabel = "REASON", description = "Why, shown by user list.")
        List<String> reason;

        @Override int run(SqliteAccounts accounts) {
            require(accounts, name);
            accounts.setHeld(name, String.join(" ", reason));
            System.out.println("held " + name + ": " + accounts.find(name).orElseThrow().heldReason());
            return 0;
        }
    }

    @Command(name = "release", exitCodeOnInvalidInput = 64,
            description = "Lift a hold and a brute-force lockout from an account.")
    static final class Release extends Base {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override int run(SqliteAccounts accounts) {
            require(accounts, name);
            boolean wasHeld = accounts.find(name).orElseThrow().held();
            accounts.release(name);
            boolean wasLocked = clearLockout(name);
            List<String> lifted = new ArrayList<>();
            if (wasHeld) lifted.add("hold lifted");
            if (wasLocked) lifted.add("lockout lifted");
            System.out.println("released " + name + ": " + (lifted.isEmpty() ? "it was neither held nor locked out" : String.join(", ", lifted)));
            return 0;
        }
    }
}
