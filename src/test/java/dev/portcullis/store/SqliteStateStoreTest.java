package dev.portcullis.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.MutableClock;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded state store, one transaction per call: expiry by the injected clock, fixed counter windows,
 * persistence, concurrency. {@link BatchedSqliteStateStoreTest} runs the same tests on the batched store.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SqliteStateStoreTest {

    @TempDir Path dir;
    final MutableClock clock = new MutableClock();
    Path file;
    SqliteStateStore store;

    SqliteStateStore open(Path file, MutableClock clock) { return new SqliteStateStore(file, clock); }

    @BeforeEach void open() {
        file = dir.resolve("state.db");
        store = open(file, clock);
    }

    @AfterEach void close() { store.close(); }

    @Test void putThenGetAndNamespacesAreSeparate() {
        assertEquals(Optional.empty(), store.get("greylist", "k"));
        store.put("greylist", "k", "v1", Duration.ofMinutes(1));
        assertEquals(Optional.of("v1"), store.get("greylist", "k"));
        assertEquals(Optional.empty(), store.get("karma", "k"));
        store.put("karma", "k", "other", Duration.ofMinutes(1));
        assertEquals(Optional.of("v1"), store.get("greylist", "k"));
        store.put("greylist", "k", "v2", Duration.ofMinutes(1));
        assertEquals(Optional.of("v2"), store.get("greylist", "k"));
        assertEquals(Optional.of("other"), store.get("karma", "k"));
    }

    @Test void keysAndValuesAreKeptExactly() {
        String key = "2001:db8::/64 17:\"a b\"@Example.org bob@example.test ünïcode";
        String value = "line1\nline2 'quoted' \"double\" ; DROP TABLE state; --";
        store.put("ns", key, value, Duration.ofMinutes(1));
        assertEquals(Optional.of(value), store.get("ns", key));
        assertEquals(Optional.empty(), store.get("ns", key.toUpperCase()));
        store.put("ns", "empty", "", Duration.ofMinutes(1));
        assertEquals(Optional.of(""), store.get("ns", "empty"));
    }

    @Test void entriesExpireAfterTheirTtlByTheInjectedClock() {
        store.put("ns", "k", "v", Duration.ofSeconds(10));
        clock.advance(Duration.ofMillis(9_999));
        assertEquals(Optional.of("v"), store.get("ns", "k"));
        clock.advance(Duration.ofMillis(1));
        assertEquals(Optional.empty(), store.get("ns", "k"));
    }

    @Test void aPutRestartsTheTtl() {
        store.put("ns", "k", "v", Duration.ofSeconds(10));
        clock.advance(Duration.ofSeconds(8));
        store.put("ns", "k", "v", Duration.ofSeconds(10));
        clock.advance(Duration.ofSeconds(8));
        assertEquals(Optional.of("v"), store.get("ns", "k"));
        clock.advance(Duration.ofSeconds(2));
        assertEquals(Optional.empty(), store.get("ns", "k"));
    }

    @Test void deleteRemoves() {
        store.put("ns", "k", "v", Duration.ofMinutes(1));
        store.put("ns", "other", "w", Duration.ofMinutes(1));
        store.delete("ns", "k");
        assertEquals(Optional.empty(), store.get("ns", "k"));
        assertEquals(Optional.of("w"), store.get("ns", "other"));
        store.delete("ns", "never-there"); // no error
        store.put("ns", "k", "again", Duration.ofMinutes(1));
        assertEquals(Optional.of("again"), store.get("ns", "k"));
    }

    @Test void incrementCountsInAFixedWindowFromTheFirstIncrement() {
        Duration window = Duration.ofMinutes(1);
        assertEquals(1, store.increment("rate", "ip", 1, window));
        clock.advance(Duration.ofSeconds(30));
        assertEquals(3, store.increment("rate", "ip", 2, window));
        assertEquals(Optional.of("3"), store.get("rate", "ip"));
        // fixed, not sliding: the later increment did not push the end of the window
        clock.advance(Duration.ofSeconds(29));
        assertEquals(4, store.increment("rate", "ip", 1, window));
        clock.advance(Duration.ofSeconds(1)); // 60 s after the first increment
        assertEquals(Optional.empty(), store.get("rate", "ip"));
        assertEquals(1, store.increment("rate", "ip", 1, window)); // a new window starts at 0
        clock.advance(Duration.ofSeconds(59));
        assertEquals(2, store.increment("rate", "ip", 1, window));
    }

    @Test void incrementTakesNegativeDeltasAndKeepsCountersApart() {
        assertEquals(5, store.increment("ns", "a", 5, Duration.ofMinutes(1)));
        assertEquals(3, store.increment("ns", "a", -2, Duration.ofMinutes(1)));
        assertEquals(-1, store.increment("ns", "b", -1, Duration.ofMinutes(1)));
        assertEquals(1, store.increment("other", "a", 1, Duration.ofMinutes(1)));
        assertEquals(Optional.of("3"), store.get("ns", "a"));
    }

    @Test void aCounterOverwrittenWithTextStartsAgain() {
        store.increment("ns", "c", 7, Duration.ofMinutes(1));
        store.put("ns", "c", "not a number", Duration.ofMinutes(1));
        assertEquals(2, store.increment("ns", "c", 2, Duration.ofMinutes(1)));
    }

    @Test void everythingSurvivesReopeningTheFile() {
        store.put("greylist", "triplet", "grey 123", Duration.ofHours(48));
        store.put("greylist", "short", "x", Duration.ofSeconds(5));
        store.increment("karma", "good:192.0.2.1", 3, Duration.ofDays(30));
        store.close();

        clock.advance(Duration.ofSeconds(10));
        store = open(file, clock);
        assertEquals(Optional.of("grey 123"), store.get("greylist", "triplet"));
        assertEquals(Optional.empty(), store.get("greylist", "short"), "expiry is kept across a restart");
        assertEquals(4, store.increment("karma", "good:192.0.2.1", 1, Duration.ofDays(30)));
        clock.advance(Duration.ofHours(48));
        assertEquals(Optional.empty(), store.get("greylist", "triplet"));
    }

    @Test void concurrentIncrementsFromEightThreadsSumCorrectly() throws Exception {
        int threads = 8;
        int each = 500;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Long>> results = new ArrayList<>();
        try {
            for (int t = 0; t < threads; t++) {
                int id = t;
                results.add(pool.submit(() -> {
                    start.await();
                    long max = 0;
                    for (int i = 0; i < each; i++) {
                        max = Math.max(max, store.increment("rate", "shared", 1, Duration.ofHours(1)));
                        store.increment("rate", "own-" + id, 1, Duration.ofHours(1));
                        store.put("misc", "t" + id, Integer.toString(i), Duration.ofHours(1));
                        store.get("misc", "t" + ((id + 1) % threads));
                    }
                    return max;
                }));
            }
            start.countDown();
            long highest = 0;
            for (Future<Long> f : results) highest = Math.max(highest, f.get(50, TimeUnit.SECONDS));
            assertEquals(threads * each, highest, "exactly one increment saw the final value");
        } finally {
            pool.shutdownNow();
        }
        assertEquals(Optional.of(Integer.toString(threads * each)), store.get("rate", "shared"));
        for (int t = 0; t < threads; t++) {
            assertEquals(Optional.of(Integer.toString(each)), store.get("rate", "own-" + t));
            assertEquals(Optional.of(Integer.toString(each - 1)), store.get("misc", "t" + t));
        }
    }

    @Test void getAllReadsTheLiveKeysOfOneNamespace() {
        store.put("karma", "good:192.0.2.1", "4", Duration.ofMinutes(1));
        store.put("karma", "bad:192.0.2.1", "1", Duration.ofSeconds(5));
        store.put("other", "good:192.0.2.9", "7", Duration.ofMinutes(1));
        assertEquals(Map.of("good:192.0.2.1", "4", "bad:192.0.2.1", "1"),
                store.getAll("karma", List.of("good:192.0.2.1", "bad:192.0.2.1", "never:192.0.2.1")));
        assertEquals(Map.of(), store.getAll("karma", List.of("good:192.0.2.9")), "another namespace's key");
        clock.advance(Duration.ofSeconds(5));
        assertEquals(Map.of("good:192.0.2.1", "4"), store.getAll("karma", List.of("good:192.0.2.1", "bad:192.0.2.1")));
        assertEquals(Map.of("good:192.0.2.1", "4"), store.getAll("karma", List.of("good:192.0.2.1")));
        assertEquals(Map.of(), store.getAll("karma", List.of()));
    }

    /** Two stores on one file are two processes sharing it (two connections, two locks): no increment is lost. */
    @Test void incrementsFromTwoStoresOnOneFileAreAtomic() throws Exception {
        int each = 400;
        try (SqliteStateStore second = open(file, clock)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> runs = new ArrayList<>();
            try {
                for (SqliteStateStore s : List.of(store, second, store, second))
                    runs.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < each; i++) s.increment("rate", "shared", 1, Duration.ofHours(1));
                        return null;
                    }));
                start.countDown();
                for (Future<?> f : runs) f.get(50, TimeUnit.SECONDS);
            } finally {
                pool.shutdownNow();
            }
            assertEquals(Optional.of(Integer.toString(4 * each)), second.get("rate", "shared"));
        }
    }

    @Test void expiredRowsArePurgedFromTheFileNowAndThen() throws Exception {
        store.put("ns", "old", "x", Duration.ofSeconds(1));
        clock.advance(Duration.ofSeconds(2));
        assertEquals(1, awaitRows(1, "old"), "expired rows stay until a purge, invisible");
        for (int i = 0; i < 1000; i++) store.put("ns", "live" + (i % 10), "v", Duration.ofHours(1));
        assertEquals(0, awaitRows(0, "old"));
        assertEquals(10, awaitRows(10, "live%"));
    }

    @Test void theFileIsInWalMode() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("PRAGMA journal_mode")) {
            assertTrue(r.next());
            assertEquals("wal", r.getString(1).toLowerCase());
        }
    }

    @Test void anInMemoryStoreWorksAlike() {
        try (var mem = SqliteStateStore.inMemory(clock)) {
            mem.put("ns", "k", "v", Duration.ofSeconds(1));
            assertEquals(Optional.of("v"), mem.get("ns", "k"));
            assertEquals(2, mem.increment("ns", "n", 2, Duration.ofSeconds(1)));
            clock.advance(Duration.ofSeconds(1));
            assertEquals(Optional.empty(), mem.get("ns", "k"));
        }
    }

    /**
     * Rows whose key matches {@code like}, expired or not, read straight from the file by another connection:
     * once there are {@code expected} of them, or what there are after 2 s (a batch is committed well before).
     */
    long awaitRows(long expected, String like) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        long n;
        while ((n = rows(like)) != expected && System.nanoTime() < deadline) Thread.sleep(5);
        return n;
    }

    long rows(String like) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file);
             var q = c.prepareStatement("SELECT COUNT(*) FROM state WHERE k LIKE ?")) {
            q.setString(1, like);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }
}
