package dev.portcullis.queue;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/*
 * Group commit (DESIGN "250 means the message is on disk"): sessions hand their message to one writer
 * thread, which appends everything that arrived while its previous fsync ran to the journal, forces the
 * journal once, and releases them all. So the disk sees one fdatasync per batch instead of two fsyncs per
 * message, and under load the batch grows by itself: no timer, no waiting for company when idle.
 *
 * The writer is a platform thread: a force() on a virtual thread would pin its carrier for the whole
 * fsync, and with 2 carriers two slow fsyncs would stop every session.
 *
 * Removals do not wake the writer: their D records wait in a queue of their own for the next batch, or
 * for the writer's next idle round. A lost D record only costs a duplicate (see SpoolJournal), and not
 * waking a thread per delivered message saves a context switch each.
 *
 * A second platform thread, the filer, gives the messages kept in memory too long their queue files
 * (UnfiledMessages), twice a second: with a delivery backlog that can be thousands of files, and writing
 * them must not hold up the next batch's 250s.
 */
final class GroupCommitter implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger("portcullis.queue");
    /**
     * When the journal's current segment is sealed (at this size or age) and how long delivery gets to
     * remove a sealed segment's messages before the ones left are forced one by one.
     */
    record Segments(long limit, Duration maxAge, Duration sealedGrace) {
        static final Segments DEFAULT = new Segments(32L << 20, Duration.ofSeconds(30), Duration.ofSeconds(30));
    }
    private static final long FILER_PERIOD_MILLIS = 500;
    /** How soon removals (D records) are forced when no store comes along to carry them. */
    private static final long IDLE_FLUSH_MILLIS = 200;

    private sealed interface Request permits Store, Stop {}
    private record Store(String id, List<ByteBuffer> file, long length, int crc, CompletableFuture<Void> durable)
            implements Request {}
    private record Stop() implements Request {}

    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    private final java.util.concurrent.ConcurrentLinkedQueue<String> removals = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final SpoolJournal journal;
    private final UnfiledMessages unfiled;
    private final java.util.concurrent.ScheduledExecutorService filer;
    private final Thread writer;
    private volatile boolean closed;
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();

    GroupCommitter(java.nio.file.Path queueDir, Segments segments, UnfiledMessages unfiled) throws IOException {
        this.unfiled = unfiled;
        this.journal = new SpoolJournal(queueDir, segments.limit(), segments.maxAge(), segments.sealedGrace(), unfiled);
        this.filer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("spool-filer").daemon().factory());
        filer.scheduleWithFixedDelay(this::fileOld, FILER_PERIOD_MILLIS, FILER_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
        this.writer = Thread.ofPlatform().name("spool-commit").daemon().start(this::run);
    }

    /** Returns once the journal holding this queue file is forced; throws when it could not be. */
    void commit(String id, List<ByteBuffer> file, long length, int crc) throws IOException {
        CompletableFuture<Void> durable = new CompletableFuture<>();
        if (closed) throw new IOException("spool closed");
        queue.add(new Store(id, file, length, crc, durable));
        try {
            durable.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) throw new IOException(io.getMessage(), io);
            throw new IOException("spool commit failed: " + cause, cause);
        } catch (InterruptedException e) {
            // The record may still be forced: at worst a message we did not say 250 to is delivered.
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the spool");
        }
    }

    /** Records a removal; written with the next batch or the writer's next round, forced soon after. Does not wait. */
    void removed(String id) {
        if (!closed) removals.add(id);
    }

    /** Batches and messages committed so far (for the log and the benchmarks). */
    long batches() { return batches.get(); }
    long stored() { return stored.get(); }

    private void run() {
        List<Request> batch = new ArrayList<>();
        boolean unforced = false;
        boolean stop = false;
        while (!stop) {
            batch.clear();
            try {
                boolean soon = unforced || !removals.isEmpty();
                Request first = queue.poll(soon ? IDLE_FLUSH_MILLIS : 1000, TimeUnit.MILLISECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch);
                }
            } catch (InterruptedException e) {
                stop = true;
            }
            boolean anyStore = false;
            IOException failure = null;
            try {
                for (Request r : batch) {
                    switch (r) {
                        case Store s -> { journal.appendStored(s.id(), s.file(), s.length(), s.crc()); anyStore = true; }
                        case Stop x -> stop = true;
                    }
                    unforced = true;
                }
                for (String id = removals.poll(); id != null; id = removals.poll()) {
                    journal.appendRemoved(id);
                    unforced = true;
                }
                if (unforced && (anyStore || batch.isEmpty() || stop)) {
                    journal.force();
                    unforced = false;
                }
            } catch (IOException | RuntimeException e) {
                failure = e instanceof IOException io ? io : new IOException(e);
            }
            if (failure != null) recoverFrom(failure, batch);
            else if (anyStore) {
                batches.incrementAndGet();
                for (Request r : batch) if (r instanceof Store s) { stored.incrementAndGet(); s.durable().complete(null); }
            }
            try {
                journal.maintain(System.nanoTime());
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "spool journal: retiring a segment failed, will try again: " + e, e);
            }
        }
        try {
            journal.close();
        } catch (IOException e) {
            LOG.warning(() -> "spool journal: close failed: " + e);
        }
        for (Request r : queue) if (r instanceof Store s) s.durable().completeExceptionally(new IOException("spool closed"));
    }

    /*
     * A failed append or force: nobody of the batch gets a 250 (they answer 451 and the client sends again).
     * The segment may now end in a half record, and recovery stops reading a segment there, so nothing
     * more may be appended to it: a new segment takes over.
     */
    private void recoverFrom(IOException failure, List<Request> batch) {
        LOG.log(Level.SEVERE, "spool journal: write failed, " + batch.size() + " request(s) refused: " + failure, failure);
        for (Request r : batch) if (r instanceof Store s) s.durable().completeExceptionally(failure);
        try {
            journal.abandonCurrent();
            // Their records may have reached the disk whole: make sure recovery does not deliver them.
            for (Request r : batch) if (r instanceof Store s) journal.appendRemoved(s.id());
            journal.force();
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.SEVERE, "spool journal: cannot start a new segment: " + e, e);
        }
    }

    private void fileOld() {
        try {
            unfiled.fileOlderThan(System.nanoTime());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "spool: writing the queue file of a message kept in memory failed, will try again: " + e, e);
        }
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        filer.shutdown();   // a filing under way finishes (never interrupted mid-write); FileSpool files the rest
        queue.add(new Stop());
        try {
            writer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info(() -> "spool: " + stored.get() + " message(s) committed in " + batches.get() + " fsync(s)");
    }
}
