package dev.portcullis.store;

import dev.portcullis.hook.StateStore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.sqlite.BusyHandler;

/**
 * The embedded {@link StateStore}: one SQLite file in the data folder, WAL mode with synchronous=NORMAL (a
 * crash of the machine may lose the last few changes, never the file). One connection behind a lock: the
 * work per call is microseconds, and SQLite serialises writers anyway. Expired rows are invisible at once and
 * purged now and then.
 *
 * <p>Two ways to run:
 * <ul>
 *   <li>{@link #SqliteStateStore(Path, Clock) one transaction per call}, for the command line's few calls:
 *       a change is in the file when the call returns, and a read never waits for the server.</li>
 *   <li>{@link #batched(Path, Clock) Batched}, for the server, which makes three calls per connection with the
 *       anti-spam chain. A call on its own pays SQLite's locking and a commit (14 fcntl and 4 pwrite calls
 *       per connection; about 34 µs, against 9 µs in batches, in a loop of the chain's three calls). So
 *       the first call opens a transaction ({@code BEGIN IMMEDIATE}), the calls of the next
 *       {@value #BATCH_MILLIS} ms run inside it, and the committer thread commits it (should it fall as far
 *       behind again, the next call does). The server sees its own changes at once; another process sees
 *       them at most {@value #BATCH_MILLIS} ms later, and a crash of the server loses at most the last
 *       {@value #BATCH_MILLIS} ms of them (twice that at worst): a counter's increments, a greylist entry,
 *       advisory state where that is acceptable. After each batch no transaction is opened for
 *       {@value #PAUSE_MILLIS} ms (calls then commit one by one), and every store retries a
 *       locked file every 0.1 ms: so another process's change ({@code portcullis user} clearing a lockout)
 *       gets its turn at the next pause however busy the server is.</li>
 * </ul>
 */
public final class SqliteStateStore implements StateStore, AutoCloseable {
    private static final int PURGE_EVERY = 1000;
    static final int BATCH_MILLIS = 50;
    static final int PAUSE_MILLIS = 1;
    private static final long BATCH_NANOS = TimeUnit.MILLISECONDS.toNanos(BATCH_MILLIS);
    private static final long PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(PAUSE_MILLIS);
    private static final long BUSY_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long BUSY_RETRY_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final Logger LOG = Logger.getLogger("portcullis.store");

    private final Connection db;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private int writes;
    // prepared once: compiling the SQL again on every call cost more than running it (all used under the lock)
    private final PreparedStatement select;
    private final PreparedStatement upsert;
    private final PreparedStatement increment;
    private final Map<Integer, PreparedStatement> selectMany = new HashMap<>(); // by number of keys
    private final PreparedStatement remove;
    private final PreparedStatement purge;
    /** Null when every call is its own transaction. */
    private final ScheduledExecutorService committer;
    // the open batch, the pause after it: guarded by the lock
    private boolean batchOpen;
    private long batchStarted;
    private long pauseEnds;
    private long batchNumber;
    private boolean closed;

    /** One transaction per call. */
    public SqliteStateStore(Path file, Clock clock) {
        this("jdbc:sqlite:" + file.toAbsolutePath(), clock, false);
    }

    /** The server's store: calls grouped in batches of {@value #BATCH_MILLIS} ms (see above). */
    public static SqliteStateStore batched(Path file, Clock clock) {
        return new SqliteStateStore("jdbc:sqlite:" + file.toAbsolutePath(), clock, true);
    }

    /** A store that lives as long as the process: for validating a configuration without touching its data. */
    public static SqliteStateStore inMemory(Clock clock) {
        return new SqliteStateStore("jdbc:sqlite::memory:", clock, false);
    }

    private SqliteStateStore(String url, Clock clock, boolean batched) {
        this.clock = clock;
        Connection c = null;
        try {
            c = DriverManager.getConnection(url);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=NORMAL");
                s.execute("CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, "
                        + "expires INTEGER NOT NULL, PRIMARY KEY (ns, k))");
            }
            this.select = c.prepareStatement("SELECT v FROM state WHERE ns = ? AND k = ? AND expires > ?");
            this.upsert = c.prepareStatement("INSERT OR REPLACE INTO state (ns, k, v, expires) VALUES (?, ?, ?, ?)");
            // one statement, so one transaction: atomic between processes too, where a SELECT then an UPSERT
            // could lose a concurrent increment. An expired row starts again from delta with a new window; a
            // value that is not a number counts as 0 (CAST). The right-hand sides read the row before the update.
            this.increment = c.prepareStatement("INSERT INTO state (ns, k, v, expires) VALUES (?1, ?2, ?3, ?4) "
                    + "ON CONFLICT (ns, k) DO UPDATE SET "
                    + "v = CASE WHEN expires > ?5 THEN CAST(CAST(v AS INTEGER) + ?6 AS TEXT) ELSE excluded.v END, "
                    + "expires = CASE WHEN expires > ?5 THEN expires ELSE excluded.expires END "
                    + "RETURNING v");
            this.remove = c.prepareStatement("DELETE FROM state WHERE ns = ? AND k = ?");
            this.purge = c.prepareStatement("DELETE FROM state WHERE expires <= ?");
            BusyHandler.setHandler(c, new RetryEvery100Micros());
            this.db = c;
        } catch (SQLException e) {
            if (c != null) try { c.close(); } catch (SQLException ignored) { /* reporting the first error */ }
            throw new IllegalStateException("cannot open state database " + url + ": " + e.getMessage(), e);
        }
        // a platform thread: a commit may checkpoint the WAL, an fsync that would pin a virtual thread's carrier
        this.committer = batched ? Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("state-commit").daemon().factory()) : null;
    }

    @Override public Optional<String> get(String namespace, String key) {
        return locked(() -> {
            select.setString(1, namespace);
            select.setString(2, key);
            select.setLong(3, clock.millis());
            try (ResultSet r = select.executeQuery()) {
                return r.next() ? Optional.of(r.getString(1)) : Optional.empty();
            }
        });
    }

    @Override public Map<String, String> getAll(String namespace, List<String> keys) {
        if (keys.isEmpty()) return Map.of();
        return locked(() -> {
            PreparedStatement q = selectMany.get(keys.size());
            if (q == null) {
                q = db.prepareStatement("SELECT k, v FROM state WHERE ns = ? AND expires > ? AND k IN ("
                        + "?, ".repeat(keys.size() - 1) + "?)");
                selectMany.put(keys.size(), q);
            }
            q.setString(1, namespace);
            q.setLong(2, clock.millis());
            for (int i = 0; i < keys.size(); i++) q.setString(3 + i, keys.get(i));
            Map<String, String> found = new HashMap<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) found.put(r.getString(1), r.getString(2));
            }
            return found;
        });
    }

    @Override public void put(String namespace, String key, String value, Duration ttl) {
        locked(() -> {
            write(namespace, key, value, expiry(clock.millis(), ttl));
            wrote();
            return null;
        });
    }

    @Override public long increment(String namespace, String key, long delta, Duration window) {
        return locked(() -> {
            long now = clock.millis();
            increment.setString(1, namespace);
            increment.setString(2, key);
            increment.setString(3, Long.toString(delta));
            increment.setLong(4, expiry(now, window));
            increment.setLong(5, now);
            increment.setLong(6, delta);
            long value;
            try (ResultSet r = increment.executeQuery()) {
                if (!r.next()) throw new SQLException("increment returned no row");
                value = r.getLong(1);
            }
            wrote();
            return value;
        });
    }

    @Override public void delete(String namespace, String key) {
        locked(() -> {
            remove.setString(1, namespace);
            remove.setString(2, key);
            remove.executeUpdate();
            return null;
        });
    }

    private void write(String namespace, String key, String value, long expires) throws SQLException {
        upsert.setString(1, namespace);
        upsert.setString(2, key);
        upsert.setString(3, value);
        upsert.setLong(4, expires);
        upsert.executeUpdate();
    }

    private void wrote() throws SQLException {
        if (++writes % PURGE_EVERY != 0) return;
        purge.setLong(1, clock.millis());
        purge.executeUpdate();
    }

    /** now + ttl, saturating: a huge TTL means "practically forever", not an overflow into the past. */
    private static long expiry(long now, Duration ttl) {
        long millis;
        try {
            millis = ttl.toMillis();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
        long sum = now + millis;
        return ((now ^ sum) & (millis ^ sum)) < 0 ? Long.MAX_VALUE : sum;
    }

    private interface Work<T> { T run() throws SQLException; }

    private <T> T locked(Work<T> work) {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("state database: closed");
            if (committer != null) {
                long now = System.nanoTime();
                // the committer ends batches; a call does only when the committer is far behind
                if (batchOpen && now - batchStarted >= 2 * BATCH_NANOS) endBatch();
                if (!batchOpen && now - pauseEnds >= 0) beginBatch(now);
            }
            return work.run();
        } catch (SQLException e) {
            // an error may have rolled the transaction back (SQLite does on a full disk or an I/O error): end
            // the batch here, keeping what it can, rather than run the next calls in an unknown state
            if (batchOpen) endBatch();
            throw new IllegalStateException("state database: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /** Opens a batch; if another process holds the file, waits for it as any write would. */
    private void beginBatch(long now) throws SQLException {
        try (Statement s = db.createStatement()) {
            s.execute("BEGIN IMMEDIATE");
        }
        batchOpen = true;
        batchStarted = now;
        long number = ++batchNumber;
        committer.schedule(() -> commitIfOpen(number), BATCH_NANOS, TimeUnit.NANOSECONDS);
    }

    /** The committer's task: ends batch {@code number} unless something else ended it first. */
    private void commitIfOpen(long number) {
        lock.lock();
        try {
            if (!closed && batchOpen && batchNumber == number) endBatch();
        } finally {
            lock.unlock();
        }
    }

    /** Commits the open batch (if that fails, rolls it back and says what was lost) and starts the pause. */
    private void endBatch() {
        batchOpen = false;
        try (Statement s = db.createStatement()) {
            s.execute("COMMIT");
        } catch (SQLException e) {
            // "no transaction is active" when an error already rolled it back
            LOG.log(Level.WARNING, "state database: a batch of changes (up to " + BATCH_MILLIS
                    + " ms of them) could not be committed: " + e.getMessage());
            try (Statement s = db.createStatement()) {
                s.execute("ROLLBACK");
            } catch (SQLException ignored) {
                // nothing left to roll back
            }
        }
        pauseEnds = System.nanoTime() + PAUSE_NANOS;
    }

    /**
     * A locked file is tried again every 0.1 ms, for up to 5 s (SQLite's own handler, busy_timeout, sleeps
     * longer and longer: it could miss every pause of a busy server). Runs under the store's lock.
     */
    private static final class RetryEvery100Micros extends BusyHandler {
        private long deadline;

        @Override protected int callback(int previousTries) {
            long now = System.nanoTime();
            if (previousTries == 0) deadline = now + BUSY_TIMEOUT_NANOS;
            if (now - deadline >= 0) return 0;
            LockSupport.parkNanos(BUSY_RETRY_NANOS);
            return 1;
        }
    }

    @Override public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            if (batchOpen) endBatch();
            db.close(); // closes its statements too
        } catch (SQLException ignored) {
            // closing anyway
        } finally {
            lock.unlock();
            if (committer != null) committer.shutdownNow();
        }
    }
}
