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
import java.util.concurrent.locks.ReentrantLock;

/**
 * The embedded {@link StateStore}: one SQLite file in the data folder, WAL mode with synchronous=NORMAL
 * (readers never wait for the writer; a crash of the server loses nothing committed, a crash of the machine
 * may lose the last few changes — a greylist entry or a counter, which is acceptable — but never the file). One connection behind a lock:
 * the work per call is microseconds, and SQLite serialises writers anyway. Expired rows are invisible at
 * once and purged now and then.
 */
public final class SqliteStateStore implements StateStore, AutoCloseable {
    private static final int PURGE_EVERY = 1000;

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

    public SqliteStateStore(Path file, Clock clock) {
        this("jdbc:sqlite:" + file.toAbsolutePath(), clock);
    }

    /** A store that lives as long as the process: for validating a configuration without touching its data. */
    public static SqliteStateStore inMemory(Clock clock) {
        return new SqliteStateStore("jdbc:sqlite::memory:", clock);
    }

    private SqliteStateStore(String url, Clock clock) {
        this.clock = clock;
        Connection c = null;
        try {
            c = DriverManager.getConnection(url);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=NORMAL");
                s.execute("PRAGMA busy_timeout=5000");
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
            this.db = c;
        } catch (SQLException e) {
            if (c != null) try { c.close(); } catch (SQLException ignored) { /* reporting the first error */ }
            throw new IllegalStateException("cannot open state database " + url + ": " + e.getMessage(), e);
        }
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
            return work.run();
        } catch (SQLException e) {
            throw new IllegalStateException("state database: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    @Override public void close() {
        lock.lock();
        try {
            db.close(); // closes its statements too
        } catch (SQLException ignored) {
            // closing anyway
        } finally {
            lock.unlock();
        }
    }
}
