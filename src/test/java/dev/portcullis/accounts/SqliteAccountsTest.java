package dev.portcullis.accounts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The accounts file: names, addresses in local domains, holds, verification, and two processes on one file. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SqliteAccountsTest {
    static final List<String> DOMAINS = List.of("example.test", "example.org");
    static final Clock CLOCK = Clock.fixed(Instant.parse("2024-05-01T12:00:00.123Z"), ZoneOffset.UTC);

    @TempDir Path dir;
    Path file;
    SqliteAccounts accounts;

    @BeforeEach void open() {
        file = dir.resolve("data").resolve(SqliteAccounts.FILE);
        accounts = new SqliteAccounts(file, DOMAINS, CLOCK);
    }

    @AfterEach void close() { accounts.close(); }

    static char[] pw(String s) { return s.toCharArray(); }

    @Test void addFindAndLookUpByAddressIgnoringCase() {
        accounts.add("alice", pw("secret"), List.of("Alice@Example.TEST", "a.smith@example.org"));
        Account a = accounts.find("alice").orElseThrow();
        assertEquals("alice", a.name());
        assertEquals(List.of("a.smith@example.org", "alice@example.test"), a.addresses());
        assertEquals(Instant.parse("2024-05-01T12:00:00Z"), a.created());
        assertFalse(a.held());
        assertTrue(a.passwordHash().startsWith("$argon2id$v=19$"));
        assertEquals(Optional.of("alice"), accounts.byAddress("ALICE@example.test").map(Account::name));
        assertEquals(Optional.of("alice"), accounts.byAddress("a.smith@EXAMPLE.ORG").map(Account::name));
        assertEquals(Optional.empty(), accounts.byAddress("alice@example.org"), "only the addresses given, not every domain");
        assertEquals(Optional.empty(), accounts.find("bob"));
        assertEquals(Optional.empty(), accounts.find("Alice"), "names are lower-case; no guessing");
    }

    @Test void withoutAnAddressTheAccountGetsNameAtTheFirstLocalDomain() {
        accounts.add("bob", pw("pw"), List.of());
        assertEquals(List.of("bob@example.test"), accounts.find("bob").orElseThrow().addresses());
    }

    @Test void theSameAddressGivenTwiceIsStoredOnce() {
        accounts.add("bob", pw("pw"), List.of("bob@example.test", "BOB@example.test"));
        assertEquals(List.of("bob@example.test"), accounts.find("bob").orElseThrow().addresses());
    }

    @Test void aNameExistsOnce() {
        accounts.add("alice", pw("one"), List.of());
        var e = assertThrows(IllegalArgumentException.class, () -> accounts.add("alice", pw("two"), List.of("other@example.test")));
        assertTrue(e.getMessage().contains("exists"), e.getMessage());
        assertTrue(accounts.verify("alice", pw("one")), "the first account is untouched");
        assertEquals(Optional.empty(), accounts.byAddress("other@example.test"), "nothing of the refused add was kept");
    }

    @Test void anAddressBelongsToOneAccount() {
        accounts.add("alice", pw("one"), List.of("shared@example.test"));
        var e = assertThrows(IllegalArgumentException.class, () -> accounts.add("bob", pw("two"), List.of("Shared@example.test")));
        assertTrue(e.getMessage().contains("belongs to account alice"), e.getMessage());
        assertEquals(Optional.empty(), accounts.find("bob"));
        accounts.add("bob", pw("two"), List.of());
        assertThrows(IllegalArgumentException.class, () -> accounts.setAddresses("bob", List.of("bob@example.test", "shared@example.test")));
        assertEquals(List.of("bob@example.test"), accounts.find("bob").orElseThrow().addresses(), "a refused change changes nothing");
    }

    @Test void addressesOutsideTheLocalDomainsAreRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> accounts.add("alice", pw("x"), List.of("alice@elsewhere.test")));
        assertEquals("alice@elsewhere.test is not in a local domain (local domains: example.test, example.org)", e.getMessage());
        assertEquals(Optional.empty(), accounts.find("alice"));
    }

    @Test void malformedAddressesAndNamesAreRefused() {
        for (String bad : List.of("alice", "@example.test", "a..b@example.test", ".a@example.test", "a b@example.test",
                "\"a\"@example.test", "a@", "x".repeat(65) + "@example.test"))
            assertThrows(IllegalArgumentException.class, () -> accounts.add("alice", pw("x"), List.of(bad)), bad);
        for (String bad : List.of("Alice", "-alice", "al ice", "alice@example.test", "", "a".repeat(65), "../x"))
            assertThrows(IllegalArgumentException.class, () -> accounts.add(bad, pw("x"), List.of("ok@example.test")), bad);
        assertEquals(List.of(), accounts.list());
        assertTrue(accounts.checkAddresses("bob", List.of("O'Brien+tag@example.test")).contains("o'brien+tag@example.test"));
    }

    @Test void anEmptyPasswordIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> accounts.add("alice", pw(""), List.of()));
    }

    @Test void setAddressesReplacesThemAll() {
        accounts.add("alice", pw("x"), List.of("alice@example.test", "old@example.test"));
        accounts.setAddresses("alice", List.of("alice@example.test", "New@example.org"));
        assertEquals(List.of("alice@example.test", "new@example.org"), accounts.find("alice").orElseThrow().addresses());
        assertEquals(Optional.empty(), accounts.byAddress("old@example.test"));
        accounts.add("bob", pw("y"), List.of("old@example.test"));
        assertThrows(NoSuchElementException.class, () -> accounts.setAddresses("carol", List.of("c@example.test")));
    }

    @Test void deleteRemovesTheAccountAndFreesItsAddresses() {
        accounts.add("alice", pw("x"), List.of("alice@example.test", "sales@example.test"));
        accounts.delete("alice");
        assertEquals(Optional.empty(), accounts.find("alice"));
        assertEquals(Optional.empty(), accounts.byAddress("sales@example.test"));
        assertFalse(accounts.verify("alice", pw("x")));
        accounts.add("bob", pw("y"), List.of("sales@example.test"));
        assertEquals(Optional.of("bob"), accounts.byAddress("sales@example.test").map(Account::name));
        assertThrows(NoSuchElementException.class, () -> accounts.delete("alice"));
    }

    @Test void holdAndRelease() {
        accounts.add("alice", pw("x"), List.of());
        accounts.setHeld("alice", "sent 5000 messages\nin a minute");
        Account held = accounts.find("alice").orElseThrow();
        assertTrue(held.held());
        assertEquals("sent 5000 messages in a minute", held.heldReason(), "one line, for user list");
        assertTrue(accounts.verify("alice", pw("x")), "a hold stops submission (the auth plugin's job), not the password");
        accounts.release("alice");
        assertFalse(accounts.find("alice").orElseThrow().held());
        assertThrows(IllegalArgumentException.class, () -> accounts.setHeld("alice", " "));
        assertThrows(NoSuchElementException.class, () -> accounts.setHeld("bob", "why"));
        assertThrows(NoSuchElementException.class, () -> accounts.release("bob"));
    }

    @Test void passwordsVerifyAndChange() {
        accounts.add("alice", pw("first"), List.of());
        assertTrue(accounts.verify("alice", pw("first")));
        assertFalse(accounts.verify("alice", pw("First")));
        accounts.setPassword("alice", pw("second"));
        assertFalse(accounts.verify("alice", pw("first")));
        assertTrue(accounts.verify("alice", pw("second")));
        assertThrows(NoSuchElementException.class, () -> accounts.setPassword("bob", pw("x")));
    }

    @Test void listIsSortedByName() {
        accounts.add("carol", pw("x"), List.of());
        accounts.add("alice", pw("x"), List.of("alice@example.test", "a@example.org"));
        accounts.add("bob", pw("x"), List.of());
        List<Account> all = accounts.list();
        assertEquals(List.of("alice", "bob", "carol"), all.stream().map(Account::name).toList());
        assertEquals(List.of("a@example.org", "alice@example.test"), all.getFirst().addresses());
    }

    /**
     * The CLI and the server are two processes on one file: a change through one instance is seen by the other
     * at its next call, with no restart and no reload.
     */
    @Test void twoInstancesOnOneFileSeeEachOthersChanges() {
        try (SqliteAccounts server = new SqliteAccounts(file, DOMAINS, CLOCK)) {
            assertEquals(Optional.empty(), server.find("alice"));
            accounts.add("alice", pw("one"), List.of("alice@example.test"));
            assertEquals(Optional.of("alice"), server.byAddress("alice@example.test").map(Account::name));
            assertTrue(server.verify("alice", pw("one")));
            accounts.setPassword("alice", pw("two"));
            assertFalse(server.verify("alice", pw("one")));
            assertTrue(server.verify("alice", pw("two")));
            accounts.setHeld("alice", "review");
            assertTrue(server.find("alice").orElseThrow().held());
            server.release("alice");
            assertFalse(accounts.find("alice").orElseThrow().held());
            accounts.setAddresses("alice", List.of("al@example.org"));
            assertEquals(Optional.empty(), server.byAddress("alice@example.test"));
            assertEquals(Optional.of("alice"), server.byAddress("al@example.org").map(Account::name));
            accounts.delete("alice");
            assertEquals(Optional.empty(), server.find("alice"));
            assertEquals(List.of(), server.list());
        }
    }

    /** The server's lookups for each RCPT and delivery: answered from memory until something commits. */
    @Test void aRepeatedLookupRunsNoQueryUntilSomethingIsCommitted() {
        accounts.add("alice", pw("x"), List.of("alice@example.test"));
        try (SqliteAccounts server = new SqliteAccounts(file, DOMAINS, CLOCK)) {
            long before = server.queries();
            for (int i = 0; i < 5; i++) {
                assertEquals(Optional.of("alice"), server.byAddress("Alice@example.test").map(Account::name));
                assertEquals(Optional.empty(), server.byAddress("nobody@example.test"));
                assertFalse(server.find("alice").orElseThrow().held());
            }
            assertEquals(3, server.queries() - before, "one query per distinct lookup");
            accounts.setHeld("alice", "review");   // another connection commits
            assertTrue(server.find("alice").orElseThrow().held());
            assertTrue(server.byAddress("alice@example.test").orElseThrow().held());
            assertEquals(5, server.queries() - before, "the commit dropped what was kept");
        }
    }

    /** The real case: `portcullis user` is another process, which shares only the file with the server. */
    @Test void aChangeByAnotherProcessIsSeenAtTheNextLookup() throws Exception {
        try (SqliteAccounts server = new SqliteAccounts(file, DOMAINS, CLOCK)) {
            assertEquals(Optional.empty(), server.byAddress("bob@example.test"));
            assertEquals(Optional.empty(), server.byAddress("bob@example.test"));   // now kept
            inAnotherProcess("add", "bob");
            assertEquals(Optional.of("bob"), server.byAddress("bob@example.test").map(Account::name));
            inAnotherProcess("delete", "bob");
            assertEquals(Optional.empty(), server.byAddress("bob@example.test"));
        }
    }

    private void inAnotherProcess(String change, String name) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), OtherProcess.class.getName(),
                file.toString(), change, name).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the other process did not end");
        assertEquals(0, p.exitValue(), output);
    }

    /** The other process: opens the file and makes one change, as `portcullis user add/delete` does. */
    static final class OtherProcess {
        public static void main(String[] args) {
            try (SqliteAccounts a = new SqliteAccounts(Path.of(args[0]), DOMAINS)) {
                if (args[1].equals("add")) a.add(args[2], pw("x"), List.of());
                else a.delete(args[2]);
            }
        }
    }

    @Test void theFileKeepsAccountsAcrossReopeningAndIsPrivate() throws Exception {
        accounts.add("alice", pw("x"), List.of());
        accounts.close();
        accounts = new SqliteAccounts(file, DOMAINS, CLOCK);
        assertTrue(accounts.verify("alice", pw("x")));
        if (Files.getFileStore(file).supportsFileAttributeView("posix"))
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    /**
     * An unknown name costs one Argon2id computation like a wrong password (RFC 4954 section 9: do not reveal
     * which names exist). Compared loosely — the best of three runs each, within a factor of four — since
     * the point is "one hash, not zero", not a benchmark.
     */
    @Test void anUnknownNameCostsAHashLikeAWrongPassword() {
        accounts.add("alice", pw("right"), List.of());
        accounts.verify("nobody", pw("warm-up"));
        long wrong = Long.MAX_VALUE, unknown = Long.MAX_VALUE, invalid = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t0 = System.nanoTime();
            assertFalse(accounts.verify("alice", pw("wrong")));
            long t1 = System.nanoTime();
            assertFalse(accounts.verify("nobody", pw("wrong")));
            long t2 = System.nanoTime();
            assertFalse(accounts.verify("Not A Name!", pw("wrong")));
            long t3 = System.nanoTime();
            wrong = Math.min(wrong, t1 - t0);
            unknown = Math.min(unknown, t2 - t1);
            invalid = Math.min(invalid, t3 - t2);
        }
        assertTrue(unknown > wrong / 4, "unknown " + unknown / 1000 + "µs vs wrong password " + wrong / 1000 + "µs");
        assertTrue(invalid > wrong / 4, "invalid " + invalid / 1000 + "µs vs wrong password " + wrong / 1000 + "µs");
        assertFalse(accounts.verify(null, pw("x")));
    }

    /** A hash made with weaker parameters (an older release) is replaced on the next successful login. */
    @Test void aWeakHashIsUpgradedAtLogin() throws Exception {
        accounts.add("alice", pw("x"), List.of());
        byte[] salt = new byte[16];
        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id).withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(64).withIterations(1).withParallelism(1).withSalt(salt).build());
        byte[] out = new byte[32];
        gen.generateBytes("legacy".getBytes(StandardCharsets.UTF_8), out);
        Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        String weak = "$argon2id$v=19$m=64,t=1,p=1$" + b64.encodeToString(salt) + "$" + b64.encodeToString(out);
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
             PreparedStatement q = c.prepareStatement("UPDATE accounts SET hash = ? WHERE name = 'alice'")) {
            q.setString(1, weak);
            q.executeUpdate();
        }
        assertFalse(accounts.verify("alice", pw("wrong")));
        assertEquals(weak, accounts.find("alice").orElseThrow().passwordHash(), "no upgrade on a failure");
        assertTrue(accounts.verify("alice", pw("legacy")));
        String now = accounts.find("alice").orElseThrow().passwordHash();
        assertNotEquals(weak, now);
        assertFalse(PasswordHash.needsRehash(now));
        assertTrue(accounts.verify("alice", pw("legacy")));
    }

    @Test void withNoLocalDomainAnAddressMustBeGiven() {
        try (SqliteAccounts none = new SqliteAccounts(dir.resolve("other.db"), List.of())) {
            var e = assertThrows(IllegalArgumentException.class, () -> none.add("alice", pw("x"), List.of()));
            assertTrue(e.getMessage().contains("no local domain"), e.getMessage());
        }
    }
}
