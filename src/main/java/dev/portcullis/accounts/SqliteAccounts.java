package dev.portcullis.accounts;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The accounts in one SQLite file, {@code data_dir/accounts.db}, shared by the running server and the
 * {@code portcullis user} command (another process).
 *
 * Invariants:
 * <ul>
 * <li>A change committed by the command is seen by the server's next read. Lookups by name and address
 *     are kept in memory only as long as the database's wal-index header ({@link WalIndexHeader}) stays
 *     what it was when they were made: any commit, by any process, changes it and drops them all. So an
 *     RCPT and the delivery after it cost a memory read instead of a query each (two queries were about a
 *     tenth of the server's CPU per message at 20 sessions with reused connections, bench/README.md). A read is one
 *     statement (joins, no second query), so it sees one consistent snapshot; a change is one
 *     {@code BEGIN IMMEDIATE} transaction, so two processes never interleave.</li>
 * <li>Names are mailbox names, {@code [a-z0-9][a-z0-9._-]*}, at most 64 characters (the rule of [local] users).
 *     Addresses are stored lower-case, each owned by one account, and always in a local domain.</li>
 * <li>{@link #verify} spends one Argon2id computation whether or not the name exists (RFC 4954 section 9
 *     warns against revealing which names are valid), and upgrades a hash made with weaker parameters.</li>
 * </ul>
 * Errors: {@link IllegalArgumentException} for bad input (name, address, password, duplicates),
 * {@link NoSuchElementException} for an unknown account, {@link IllegalStateException} when the database fails.
 * One connection behind a lock, WAL, as {@code SqliteStateStore}.
 */
public final class SqliteAccounts implements Accounts, AutoCloseable {
    /** The file name in the data folder. */
    public static final String FILE = "accounts.db";
    private static final Logger LOG = Logger.getLogger("portcullis.accounts");
    private static final int SCHEMA_VERSION = 1;
    private static final int MAX_NAME = 64;
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]*");
    /** RFC 5322 dot-atom local part (atext, dots only between atoms); quoted local parts are not offered. */
    private static final Pattern LOCAL_PART = Pattern.compile("[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*");
    /**
     * For unknown names: a hash of 32 random characters (since forgotten) with the current parameters, so
     * verifying against it costs what a real account costs. The tests check that it stays current.
     */
    static final String DUMMY_HASH =
            "$argon2id$v=19$m=19456,t=2,p=1$WpYmFVEhzRm+w7HySip93g$kvvEhFrYM2WOWEauUGbLNTXWWqDz/PkTUR8Kgk1IwkY";

    private final Connection db;
    private final List<String> localDomains;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    /** The reads' statements, prepared once: parsing the SQL cost more than running it. Guarded by lock. */
    private final Map<String, PreparedStatement> reads = new java.util.HashMap<>();
    /** Null when the database has no wal-index to watch: then every lookup is a query. */
    private final WalIndexHeader walIndex;
    /** Lookups made under one wal-index header; replaced as a whole when the header changes. */
    private record Lookups(byte[] header, ConcurrentHashMap<String, Optional<Account>> answers) {}
    /** Bounds the memory an address-guessing client can fill: past it the answers start over. */
    private static final int MAX_KEPT = 10_000;
    private volatile Lookups lookups = new Lookups(new byte[0], new ConcurrentHashMap<>());
    private final AtomicLong queries = new AtomicLong();

    /** The accounts of a data folder, with its configured local domains. */
    public static SqliteAccounts open(Path dataDir, List<String> localDomains) {
        return new SqliteAccounts(dataDir.resolve(FILE), localDomains, Clock.systemUTC());
    }

    public SqliteAccounts(Path file, List<String> localDomains) {
        this(file, localDomains, Clock.systemUTC());
    }

    public SqliteAccounts(Path file, List<String> localDomains, Clock clock) {
        this.localDomains = localDomains.stream().map(d -> d.toLowerCase(Locale.ROOT)).toList();
        this.clock = clock;
        createPrivately(file);
        Connection c = null;
        try {
            c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=NORMAL");
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("PRAGMA foreign_keys=ON");
                s.execute("CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, "
                        + "held_reason TEXT, created TEXT NOT NULL)");
                s.execute("CREATE TABLE IF NOT EXISTS addresses (address TEXT PRIMARY KEY NOT NULL, "
                        + "name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE)");
                s.execute("CREATE INDEX IF NOT EXISTS addresses_by_name ON addresses(name)");
                try (ResultSet r = s.executeQuery("PRAGMA user_version")) {
                    int version = r.next() ? r.getInt(1) : 0;
                    if (version > SCHEMA_VERSION)
                        throw new SQLException("made by a newer Portcullis (schema " + version + ", this one knows " + SCHEMA_VERSION + ")");
                }
                s.execute("PRAGMA user_version=" + SCHEMA_VERSION);
            }
            this.db = c;
            this.walIndex = WalIndexHeader.of(file);
        } catch (SQLException e) {
            if (c != null) try { c.close(); } catch (SQLException ignored) { /* reporting the first error */ }
            throw new IllegalStateException("cannot open accounts database " + file + ": " + e.getMessage(), e);
        }
    }

    /** The file holds password hashes: owner-only from its first byte (SQLite gives -wal and -shm the same mode). */
    private static void createPrivately(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            if (Files.exists(file)) return;
            try {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(file); // not a POSIX file system: the folder's protection must do
            }
        } catch (FileAlreadyExistsException e) {
            // created by the other process meanwhile
        } catch (IOException e) {
            throw new IllegalStateException("cannot create accounts database " + file + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- reads

    private static final String SELECT = "SELECT a.name, a.hash, a.held_reason, a.created, d.address "
            + "FROM accounts a LEFT JOIN addresses d ON d.name = a.name ";

    @Override public Optional<Account> find(String name) {
        if (!validName(name)) return Optional.empty();
        return kept("n:" + name, () -> first(query(SELECT + "WHERE a.name = ? ORDER BY d.address", name)));
    }

    @Override public Optional<Account> byAddress(String address) {
        if (address == null) return Optional.empty();
        String a = address.toLowerCase(Locale.ROOT);
        return kept("a:" + a, () -> first(query(SELECT + "WHERE a.name = (SELECT name FROM addresses WHERE address = ?) "
                + "ORDER BY d.address", a)));
    }

    /**
     * The answer kept for {@code key} while the wal-index header is unchanged, else a fresh one. The header is
     * read before the query: a commit after that read changes it, so an answer it made stale is not used.
     */
    private Optional<Account> kept(String key, Work<Optional<Account>> query) {
        if (walIndex == null) return locked(query);
        byte[] header = walIndex.read();
        Lookups current = lookups;
        boolean unchanged = Arrays.equals(header, current.header());
        Optional<Account> known = unchanged ? current.answers().get(key) : null;
        if (known != null) return known;
        if (!unchanged || current.answers().size() >= MAX_KEPT) {
            current = new Lookups(header, new ConcurrentHashMap<>());
            lookups = current;
        }
        Optional<Account> answer = locked(query);
        current.answers().put(key, answer);
        return answer;
    }

    /** Queries run so far (tests: a repeated lookup must not run one). */
    long queries() { return queries.get(); }

    @Override public List<Account> list() {
        return locked(() -> query(SELECT + "ORDER BY a.name, d.address"));
    }

    private static Optional<Account> first(List<Account> l) {
        return l.isEmpty() ? Optional.empty() : Optional.of(l.getFirst());
    }

    /** Rows ordered by name, one per address (or one with a null address): folded into accounts. */
    private List<Account> query(String sql, String... args) throws SQLException {
        Map<String, String[]> rows = new LinkedHashMap<>();
        Map<String, List<String>> addresses = new LinkedHashMap<>();
        queries.incrementAndGet();
        PreparedStatement q = reads.get(sql);
        if (q == null) reads.put(sql, q = db.prepareStatement(sql));
        for (int i = 0; i < args.length; i++) q.setString(i + 1, args[i]);
        try (ResultSet r = q.executeQuery()) {
            while (r.next()) {
                String name = r.getString(1);
                rows.putIfAbsent(name, new String[] {r.getString(2), r.getString(3), r.getString(4)});
                List<String> list = addresses.computeIfAbsent(name, k -> new ArrayList<>());
                String address = r.getString(5);
                if (address != null) list.add(address);
            }
        }
        List<Account> out = new ArrayList<>(rows.size());
        rows.forEach((name, f) -> out.add(new Account(name, f[0], addresses.get(name), f[1], Instant.parse(f[2]))));
        return out;
    }

    // ---------------------------------------------------------------- changes

    @Override public void add(String name, char[] password, List<String> addresses) {
        requireName(name);
        String hash = hashOf(password);
        List<String> wanted = addresses == null || addresses.isEmpty() ? List.of(defaultAddress(name)) : addresses;
        List<String> normal = normalize(wanted);
        inTransaction(() -> {
            if (exists(name)) throw new IllegalArgumentException("account " + name + " exists already");
            checkOwners(name, normal);
            try (PreparedStatement q = db.prepareStatement("INSERT INTO accounts (name, hash, held_reason, created) VALUES (?, ?, NULL, ?)")) {
                q.setString(1, name);
                q.setString(2, hash);
                q.setString(3, clock.instant().truncatedTo(ChronoUnit.SECONDS).toString());
                q.executeUpdate();
            }
            insertAddresses(name, normal);
        });
    }

    @Override public void setPassword(String name, char[] password) {
        requireName(name);
        String hash = hashOf(password);
        inTransaction(() -> update("UPDATE accounts SET hash = ? WHERE name = ?", hash, name));
    }

    /** Replaces the account's addresses; an empty list leaves it reachable only through aliases. */
    @Override public void setAddresses(String name, List<String> addresses) {
        requireName(name);
        List<String> normal = normalize(addresses == null ? List.of() : addresses);
        inTransaction(() -> {
            if (!exists(name)) throw unknown(name);
            checkOwners(name, normal);
            try (PreparedStatement q = db.prepareStatement("DELETE FROM addresses WHERE name = ?")) {
                q.setString(1, name);
                q.executeUpdate();
            }
            insertAddresses(name, normal);
        });
    }

    /** Removes the account and its addresses; its mailbox on disk is left alone. */
    @Override public void delete(String name) {
        requireName(name);
        inTransaction(() -> {
            try (PreparedStatement q = db.prepareStatement("DELETE FROM accounts WHERE name = ?")) {
                q.setString(1, name);
                if (q.executeUpdate() == 0) throw unknown(name);
            }
        });
    }

    @Override public void setHeld(String name, String reason) {
        requireName(name);
        String why = reason == null ? "" : reason.replaceAll("\\p{Cntrl}+", " ").strip();
        if (why.isEmpty()) throw new IllegalArgumentException("a hold needs a reason");
        if (why.length() > 200) throw new IllegalArgumentException("the reason for a hold is limited to 200 characters");
        inTransaction(() -> update("UPDATE accounts SET held_reason = ? WHERE name = ?", why, name));
    }

    @Override public void release(String name) {
        requireName(name);
        inTransaction(() -> update("UPDATE accounts SET held_reason = NULL WHERE name = ?", name));
    }

    @Override public boolean verify(String name, char[] password) {
        String stored = validName(name) ? locked(() -> storedHash(name)) : null;
        boolean match = PasswordHash.verify(password, stored != null ? stored : DUMMY_HASH);
        if (stored == null || !match) return false;
        if (PasswordHash.needsRehash(stored)) upgrade(name, stored, password);
        return true;
    }

    /** Re-hashes with the current parameters after a successful login; a failure here never fails the login. */
    private void upgrade(String name, String old, char[] password) {
        try {
            String fresh = PasswordHash.hash(password);
            inTransaction(() -> { // only if the hash is still the one verified: a concurrent passwd wins
                try (PreparedStatement q = db.prepareStatement("UPDATE accounts SET hash = ? WHERE name = ? AND hash = ?")) {
                    q.setString(1, fresh);
                    q.setString(2, name);
                    q.setString(3, old);
                    q.executeUpdate();
                }
            });
            LOG.fine(() -> "accounts: upgraded the password hash of " + name + " to current parameters");
        } catch (RuntimeException e) {
            LOG.warning(() -> "accounts: could not upgrade the password hash of " + name + ": " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- validation

    /** True for a well-formed account name (lower-case mailbox name). */
    public static boolean validName(String name) {
        return name != null && name.length() <= MAX_NAME && NAME.matcher(name).matches();
    }

    /**
     * The addresses in stored form (lower-case, duplicates dropped), after checking syntax, locality and that
     * no other account owns one — for a caller that wants to report a mistake before asking for a password.
     */
    public List<String> checkAddresses(String name, List<String> addresses) {
        requireName(name);
        List<String> normal = normalize(addresses.isEmpty() ? List.of(defaultAddress(name)) : addresses);
        locked(() -> {
            checkOwners(name, normal);
            return null;
        });
        return normal;
    }

    private static void requireName(String name) {
        if (!validName(name))
            throw new IllegalArgumentException("account names are lower-case letters, digits, '.', '_' and '-', "
                    + "starting with a letter or digit, at most " + MAX_NAME + " characters: " + name);
    }

    private String defaultAddress(String name) {
        if (localDomains.isEmpty()) throw new IllegalArgumentException("no local domain is configured: give an address");
        return name + "@" + localDomains.getFirst();
    }

    private List<String> normalize(List<String> addresses) {
        Set<String> out = new LinkedHashSet<>();
        for (String a : addresses) out.add(normalizeAddress(a));
        return List.copyOf(out);
    }

    private String normalizeAddress(String address) {
        String a = address == null ? "" : address.toLowerCase(Locale.ROOT);
        int at = a.lastIndexOf('@');
        if (at <= 0 || at > 64 || !LOCAL_PART.matcher(a.substring(0, at)).matches())
            throw new IllegalArgumentException("not a valid address (expected local-part@domain): " + address);
        String domain = a.substring(at + 1);
        if (!localDomains.contains(domain))
            throw new IllegalArgumentException(address + " is not in a local domain (local domains: "
                    + (localDomains.isEmpty() ? "none" : String.join(", ", localDomains)) + ")");
        return a;
    }

    private static String hashOf(char[] password) {
        if (password == null || password.length == 0) throw new IllegalArgumentException("an empty password is not allowed");
        return PasswordHash.hash(password);
    }

    // ---------------------------------------------------------------- SQL helpers (called with the lock held)

    private boolean exists(String name) throws SQLException {
        return storedHash(name) != null;
    }

    private String storedHash(String name) throws SQLException {
        try (PreparedStatement q = db.prepareStatement("SELECT hash FROM accounts WHERE name = ?")) {
            q.setString(1, name);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? r.getString(1) : null;
            }
        }
    }

    private void checkOwners(String name, List<String> addresses) throws SQLException {
        try (PreparedStatement q = db.prepareStatement("SELECT name FROM addresses WHERE address = ?")) {
            for (String a : addresses) {
                q.setString(1, a);
                try (ResultSet r = q.executeQuery()) {
                    if (r.next() && !r.getString(1).equals(name))
                        throw new IllegalArgumentException(a + " belongs to account " + r.getString(1));
                }
            }
        }
    }

    private void insertAddresses(String name, List<String> addresses) throws SQLException {
        try (PreparedStatement q = db.prepareStatement("INSERT INTO addresses (address, name) VALUES (?, ?)")) {
            for (String a : addresses) {
                q.setString(1, a);
                q.setString(2, name);
                q.executeUpdate();
            }
        }
    }

    /** An UPDATE of one account by name (the last argument); none updated means no such account. */
    private void update(String sql, String... args) throws SQLException {
        try (PreparedStatement q = db.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) q.setString(i + 1, args[i]);
            if (q.executeUpdate() == 0) throw unknown(args[args.length - 1]);
        }
    }

    private static NoSuchElementException unknown(String name) {
        return new NoSuchElementException("no account named " + name);
    }

    private interface Work<T> { T run() throws SQLException; }
    private interface Change { void run() throws SQLException; }

    private <T> T locked(Work<T> work) {
        lock.lock();
        try {
            return work.run();
        } catch (SQLException e) {
            throw new IllegalStateException("accounts database: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * One write transaction. IMMEDIATE takes the write lock at BEGIN, so the checks made inside hold until
     * COMMIT even against the other process, and a busy database waits (busy_timeout) instead of failing
     * on a read-to-write upgrade.
     */
    private void inTransaction(Change change) {
        locked(() -> {
            try (Statement s = db.createStatement()) {
                s.execute("BEGIN IMMEDIATE");
                try {
                    change.run();
                    s.execute("COMMIT");
                } catch (SQLException | RuntimeException e) {
                    try {
                        s.execute("ROLLBACK");
                    } catch (SQLException r) {
                        e.addSuppressed(r);
                    }
                    throw e;
                }
            }
            return null;
        });
    }

    @Override public void close() {
        lock.lock();
        try {
            for (PreparedStatement q : reads.values()) q.close();
            db.close();
        } catch (SQLException ignored) {
            // closing anyway
        } finally {
            lock.unlock();
        }
    }
}
