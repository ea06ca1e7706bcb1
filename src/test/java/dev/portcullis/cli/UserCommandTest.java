package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.Main;
import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.store.SqliteStateStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code portcullis user}, run in-process as an administrator would, against a config in a temporary folder. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class UserCommandTest {
    @TempDir Path dir;
    Path config;
    Path data;

    @BeforeEach void writeConfig() throws Exception {
        config = dir.resolve("portcullis.toml");
        Files.writeString(config, """
                [server]
                data_dir = "data"
                [local]
                domains = ["example.test", "example.org"]
                users = ["carol"]
                """);
        data = dir.resolve("data");
    }

    record Output(int exit, String out, String err) {}

    /** Main.run with standard input holding {@code stdin}, capturing both outputs. */
    static Output run(String stdin, String... args) {
        PrintStream out = System.out, err = System.err;
        InputStream in = System.in;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        try {
            int exit = Main.run(args);
            return new Output(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
            System.setIn(in);
        }
    }

    Output user(String stdin, String... args) {
        String[] all = new String[args.length + 3];
        all[0] = "user";
        all[1] = args[0];
        all[2] = "--config";
        all[3] = config.toString();
        System.arraycopy(args, 1, all, 4, args.length - 1);
        return run(stdin, all);
    }

    SqliteAccounts accounts() {
        return SqliteAccounts.open(data, List.of("example.test", "example.org"));
    }

    @Test void addThenListShowsTheAccount() {
        Output add = user("s3cret pass\n", "add", "alice", "--address", "alice@example.test", "-a", "Sales@Example.org");
        assertEquals(0, add.exit(), add.err());
        assertEquals("added alice (alice@example.test, sales@example.org)\n", add.out());
        assertEquals("", add.err());
        Output bob = user("pw\r\n", "add", "--password-stdin", "bob");
        assertEquals(0, bob.exit(), bob.err());
        assertTrue(bob.out().contains("bob@example.test"), "the default address: " + bob.out());

        Output list = user("", "list");
        assertEquals(0, list.exit(), list.err());
        List<String> lines = list.out().lines().toList();
        assertEquals(2, lines.size(), list.out());
        assertTrue(lines.get(0).matches("alice  alice@example.test,sales@example.org  created \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), lines.get(0));
        assertTrue(lines.get(1).startsWith("bob    bob@example.test  created "), lines.get(1));
        try (SqliteAccounts a = accounts()) {
            assertTrue(a.verify("alice", "s3cret pass".toCharArray()), "the whole first line is the password");
            assertTrue(a.verify("bob", "pw".toCharArray()), "without its CR LF");
        }
    }

    @Test void passwdChangesThePassword() {
        assertEquals(0, user("old password\n", "add", "alice").exit());
        Output p = user("new password\n", "passwd", "alice");
        assertEquals(0, p.exit(), p.err());
        assertEquals("password changed for alice\n", p.out());
        try (SqliteAccounts a = accounts()) {
            assertFalse(a.verify("alice", "old password".toCharArray()));
            assertTrue(a.verify("alice", "new password".toCharArray()));
        }
        Output unknown = user("x\n", "passwd", "nobody");
        assertEquals(67, unknown.exit());
        assertEquals("portcullis: user: no account named nobody\n", unknown.err());
    }

    @Test void deleteRemovesTheAccount() throws Exception {
        assertEquals(0, user("pw\n", "add", "alice").exit());
        Files.createDirectories(data.resolve("mail").resolve("alice").resolve("new"));
        Output d = user("", "delete", "alice");
        assertEquals(0, d.exit(), d.err());
        assertTrue(d.out().startsWith("deleted alice; its mail is still in "), d.out());
        assertEquals("", user("", "list").out());
        try (SqliteAccounts a = accounts()) {
            assertEquals(Optional.empty(), a.find("alice"));
        }
        assertEquals(67, user("", "delete", "alice").exit());
    }

    @Test void aDeletedAccountLeavesNoLockoutForTheNextOfItsName() {
        assertEquals(0, user("pw\n", "add", "alice").exit());
        try (SqliteStateStore store = new SqliteStateStore(data.resolve("state.db"), Clock.systemUTC())) {
            store.put(UserCommand.LOCKOUT, "alice", Instant.now().plusSeconds(900).toString(), Duration.ofMinutes(15));
        }
        assertEquals(0, user("", "delete", "alice").exit());
        assertEquals(0, user("pw\n", "add", "alice").exit());
        assertFalse(user("", "list").out().contains("LOCKED"));
    }

    @Test void addressSetsTheAddresses() {
        assertEquals(0, user("pw\n", "add", "alice").exit());
        Output a = user("", "address", "alice", "alice@example.test", "info@example.org");
        assertEquals(0, a.exit(), a.err());
        assertEquals("alice: alice@example.test, info@example.org\n", a.out());
        Output bad = user("", "address", "alice", "info@elsewhere.test");
        assertEquals(65, bad.exit());
        assertTrue(bad.err().contains("info@elsewhere.test is not in a local domain"), bad.err());
    }

    @Test void releaseClearsAHoldAndALockout() {
        assertEquals(0, user("pw\n", "add", "alice").exit());
        Output hold = user("", "hold", "alice", "sent", "spam");
        assertEquals(0, hold.exit(), hold.err());
        Instant until = Instant.now().plus(Duration.ofMinutes(15)).truncatedTo(ChronoUnit.SECONDS);
        try (SqliteStateStore store = new SqliteStateStore(data.resolve("state.db"), Clock.systemUTC())) {
            store.put(UserCommand.LOCKOUT, "alice", until.toString(), Duration.ofMinutes(15));
            store.put(UserCommand.FAILURES, "alice", "5", Duration.ofMinutes(15));
        }
        Output list = user("", "list");
        assertTrue(list.out().contains("  HELD: sent spam  LOCKED OUT until " + until), list.out());

        Output release = user("", "release", "alice");
        assertEquals(0, release.exit(), release.err());
        assertEquals("released alice: hold lifted, lockout lifted\n", release.out());
        Output after = user("", "list");
        assertFalse(after.out().contains("HELD"), after.out());
        assertFalse(after.out().contains("LOCKED"), after.out());
        try (SqliteStateStore store = new SqliteStateStore(data.resolve("state.db"), Clock.systemUTC())) {
            assertEquals(Optional.empty(), store.get(UserCommand.LOCKOUT, "alice"));
            assertEquals(Optional.empty(), store.get(UserCommand.FAILURES, "alice"), "the next failure does not re-lock at once");
        }
        assertEquals("released alice: it was neither held nor locked out\n", user("", "release", "alice").out());
    }

    @Test void aPasswordOnTheCommandLineIsRefusedAndNotEchoed() {
        Output o = user("", "add", "alice", "hunter2");
        assertEquals(64, o.exit());
        assertFalse(o.err().contains("hunter2"), o.err());
        assertTrue(o.err().contains("never taken from the command line"), o.err());
        Output opt = user("", "passwd", "alice", "--password", "hunter2");
        assertEquals(64, opt.exit());
        assertFalse(opt.err().contains("hunter2"), opt.err());
        assertTrue(opt.err().contains("--password"), "the unknown option is named: " + opt.err());
        try (SqliteAccounts a = accounts()) {
            assertEquals(List.of(), a.list());
        }
    }

    @Test void anAddressOutsideTheLocalDomainsIsBadData() {
        Output o = user("pw\n", "add", "alice", "--address", "alice@elsewhere.test");
        assertEquals(65, o.exit());
        assertEquals("portcullis: user: alice@elsewhere.test is not in a local domain (local domains: example.test, example.org)\n", o.err());
        assertEquals("", user("", "list").out());
    }

    @Test void badInputGivesOneLineAndTheRightExitCode() {
        Output name = user("pw\n", "add", "Alice");
        assertEquals(65, name.exit());
        assertEquals(1, name.err().lines().count(), name.err());
        Output empty = user("\n", "add", "alice");
        assertEquals(65, empty.exit());
        assertEquals("portcullis: user: an empty password is not allowed\n", empty.err());
        Output none = user("", "add", "alice");
        assertEquals(65, none.exit());
        assertTrue(none.err().contains("no password on standard input"), none.err());
        assertEquals(0, user("pw\n", "add", "alice").exit());
        Output twice = user("pw\n", "add", "alice");
        assertEquals(65, twice.exit());
        assertEquals("portcullis: user: account alice exists already\n", twice.err());
        Output taken = user("pw\n", "add", "bob", "-a", "alice@example.test");
        assertEquals(65, taken.exit());
        assertEquals("portcullis: user: alice@example.test belongs to account alice\n", taken.err());
        Output missing = user("", "passwd");
        assertEquals(64, missing.exit(), "picocli's usage error, as sysexits' EX_USAGE");
        assertEquals(64, run("", "user").exit());
    }

    @Test void aSharedNameWithAConfigUserIsNoted() {
        Output o = user("pw\n", "add", "carol");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.err().contains("carol is also a [local] user"), o.err());
    }

    @Test void aBrokenConfigIsAConfigError() throws Exception {
        Files.writeString(config, "[local]\ndomains = 3\n");
        Output o = user("", "list");
        assertEquals(78, o.exit());
        assertTrue(o.err().startsWith("portcullis: user: configuration error: "), o.err());
        assertEquals(1, o.err().lines().count(), o.err());
    }
}
