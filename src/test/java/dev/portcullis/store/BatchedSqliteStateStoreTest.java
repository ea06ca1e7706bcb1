package dev.portcullis.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.portcullis.testkit.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The server's batched store: every test of {@link SqliteStateStoreTest} (its own changes are seen at once,
 * they survive a reopening, increments from two stores on one file are atomic), and what batching adds.
 */
class BatchedSqliteStateStoreTest extends SqliteStateStoreTest {

    @Override SqliteStateStore open(Path file, MutableClock clock) { return SqliteStateStore.batched(file, clock); }

    /** Another process sees a change once its batch is committed, with no further call to carry it. */
    @Test void aChangeReachesTheFileWithoutAnotherCall() throws Exception {
        store.put("ns", "k1", "v", Duration.ofHours(1));
        assertEquals(1, awaitRows(1, "k1"));
    }

    /**
     * While the server's store is kept busy (three threads calling it back to back, so a new batch opens as
     * soon as the pause allows), a store in another connection, as {@code portcullis user} is, still gets
     * every one of its writes in, each well within the 5 s a locked file is waited for.
     */
    @Test void anotherConnectionsWritesGetInWhileTheStoreIsBusy() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong calls = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (SqliteStateStore other = new SqliteStateStore(file, clock)) {
            Future<?>[] busy = new Future<?>[3];
            for (int t = 0; t < busy.length; t++) {
                int id = t;
                busy[t] = pool.submit(() -> {
                    while (!stop.get()) {
                        store.increment("karma", "good:192.0.2." + id, 1, Duration.ofHours(1));
                        store.getAll("karma", List.of("good:192.0.2." + id, "bad:192.0.2." + id));
                        calls.incrementAndGet();
                    }
                    return null;
                });
            }
            while (calls.get() < 1000) Thread.sleep(1); // busy for sure
            for (int i = 0; i < 20; i++) {
                other.put("lockout", "user" + i, "until", Duration.ofHours(1));
                other.delete("lockout", "user" + i);
                other.increment("failures", "user", 1, Duration.ofHours(1));
            }
            stop.set(true);
            for (Future<?> f : busy) f.get(10, TimeUnit.SECONDS);
            assertEquals(Optional.of("20"), store.get("failures", "user"), "the server's store sees the other's writes");
            assertEquals(Optional.empty(), store.get("lockout", "user19"));
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
    }
}
