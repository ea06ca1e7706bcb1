package dev.portcullis.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class DirectorySyncTest {

    @TempDir Path dir;

    @Test
    void concurrentCallersShareFsyncsAndEveryOneReturns() throws Exception {
        int threads = 8;
        int each = 50;
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                int n = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        Files.writeString(dir.resolve(n + "-" + i), "x");
                        DirectorySync.sync(dir);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        }
        long fsyncs = DirectorySync.fsyncs(dir);
        assertTrue(fsyncs >= 1 && fsyncs < threads * each,
                "8 threads syncing one folder at once share fsyncs: " + fsyncs + " for " + threads * each + " calls");
        try (var files = Files.list(dir)) {
            assertEquals(threads * each, files.count());
        }
    }

    @Test
    void aCallAloneRunsItsOwnFsync() throws IOException {
        long before = DirectorySync.fsyncs(dir);
        DirectorySync.sync(dir);
        DirectorySync.sync(dir);
        assertEquals(before + 2, DirectorySync.fsyncs(dir), "a sync never counts as covering a later call");
    }

    @Test
    void aFailureReachesTheCaller() {
        assertThrows(IOException.class, () -> DirectorySync.sync(dir.resolve("missing")));
    }
}
