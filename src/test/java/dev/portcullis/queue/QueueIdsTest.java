package dev.portcullis.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class QueueIdsTest {

    @Test
    void idsFromManyThreadsAreUniqueAndIncreasePerThread() throws Exception {
        int threads = 4, perThread = 2_500;
        List<Future<List<String>>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                results.add(pool.submit(() -> {
                    List<String> ids = new ArrayList<>(perThread);
                    for (int i = 0; i < perThread; i++) ids.add(QueueIds.next());
                    return ids;
                }));
            }
            Set<String> all = new HashSet<>();
            for (Future<List<String>> f : results) {
                List<String> ids = f.get();
                for (int i = 1; i < ids.size(); i++)
                    assertTrue(ids.get(i - 1).compareTo(ids.get(i)) < 0, ids.get(i - 1) + " then " + ids.get(i));
                all.addAll(ids);
            }
            assertEquals(threads * perThread, all.size());
        }
    }

    @Test
    void idsAreSixteenCharactersOfCrockfordBase32() {
        for (int i = 0; i < 100; i++) assertTrue(QueueIds.next().matches("[0-9A-HJKMNP-TV-Z]{16}"));
    }

    @Test
    void idsSortByTime() throws InterruptedException {
        String before = QueueIds.next();
        Thread.sleep(5);
        String after = QueueIds.next();
        // The first ten characters are the millisecond: a later one sorts after, whatever the counter.
        assertTrue(before.substring(0, 10).compareTo(after.substring(0, 10)) < 0, before + " then " + after);
    }
}
