package dev.portcullis.delivery;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;

/*
 * fsync of a directory, shared by everyone who needs it at the same time: a new name in a directory is
 * durable once the directory has been synced after the rename, and one fsync that starts after several
 * renames makes all of them durable. So deliveries into one Maildir wait for a sync that started after
 * their rename (running one themselves when none is under way) instead of each forcing new/ on its own.
 *
 * Callers are platform threads (delivery workers): waiting here blocks them, which is what they are for.
 */
final class DirectorySync {

    private static final ConcurrentHashMap<Path, DirectorySync> BY_DIRECTORY = new ConcurrentHashMap<>();

    private final Path dir;
    private long requested;   // generations: each sync() call takes the next one, after its rename
    private long durable;     // every generation up to this one is covered by a completed fsync
    private boolean running;
    private long fsyncs;      // for tests: how many fsyncs the callers shared

    private DirectorySync(Path dir) {
        this.dir = dir;
    }

    /** Returns once every rename into {@code dir} that finished before this call is durable. */
    static void sync(Path dir) throws IOException {
        BY_DIRECTORY.computeIfAbsent(dir.toAbsolutePath().normalize(), DirectorySync::new).sync();
    }

    /** How many fsyncs of {@code dir} were run so far. */
    static long fsyncs(Path dir) {
        DirectorySync d = BY_DIRECTORY.get(dir.toAbsolutePath().normalize());
        if (d == null) return 0;
        synchronized (d) {
            return d.fsyncs;
        }
    }

    private void sync() throws IOException {
        long mine;
        long covers;
        synchronized (this) {
            mine = ++requested;
            while (durable < mine && running) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while syncing " + dir);
                }
            }
            if (durable >= mine) return;
            running = true;
            covers = requested;   // every rename counted so far happened before the fsync below starts
        }
        boolean ok = false;
        try {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
            ok = true;
        } finally {
            synchronized (this) {
                if (ok) durable = Math.max(durable, covers);
                fsyncs++;
                running = false;   // on failure a waiting caller runs its own fsync and sees the error itself
                notifyAll();
            }
        }
    }
}
