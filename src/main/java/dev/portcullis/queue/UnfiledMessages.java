package dev.portcullis.queue;

import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/*
 * Messages stored through group commit that have no queue file yet. Their durable copy is their record
 * in the journal; their bytes are kept here, in memory. Most messages are delivered (or discarded)
 * within milliseconds of their 250, and for those the spool never creates, renames, reads or unlinks a
 * file: the journal's R and D records are all the disk sees. Creating and deleting a file per message
 * was the largest single cost of accepting mail (inode allocation and the directory lock, in the kernel).
 *
 * A message gets its queue file ("is filed"):
 * - before anything but reading and removing changes it: markDone, hold, retry state (FileSpool);
 * - once it has waited FILE_AFTER (GroupCommitter's filer thread files it): the queue tools of other
 *   processes look at messages/ only, and a message waiting for a remote server or a retry belongs there;
 * - before its journal segment is retired, and when the spool closes (then also forced);
 * - never here at all when the bytes kept would pass the memory limit: the spool writes the file at once.
 * Filing writes tmp/<id> and renames it into messages/ without a force: the journal still holds the
 * message, and retiring the segment forces the file first.
 *
 * Thread-safe. An entry's filed/gone flags change under its own lock, so a message is filed at most once
 * and never after its removal, whichever threads race.
 */
final class UnfiledMessages {

    /** How long a message stays without a queue file at most (unless the spool goes first). */
    static final Duration FILE_AFTER = Duration.ofSeconds(2);

    private static final class Entry {
        final String id;
        final Envelope envelope;
        final long storedAt;
        final long weight;
        List<ByteBuffer> file;   // header + content; null once filed or gone. Guarded by this.
        boolean filed;
        boolean gone;

        Entry(String id, Envelope envelope, List<ByteBuffer> file, long weight, long storedAt) {
            this.id = id;
            this.envelope = envelope;
            this.file = file;
            this.weight = weight;
            this.storedAt = storedAt;
        }
    }

    private final Path tmp;
    private final Path messages;
    private final long limit;
    private final ConcurrentHashMap<String, Entry> byId = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Entry> byAge = new ConcurrentLinkedQueue<>();
    private final AtomicLong bytes = new AtomicLong();

    UnfiledMessages(Path tmp, Path messages, long limit) {
        this.tmp = tmp;
        this.messages = messages;
        this.limit = limit;
    }

    /** The default limit: 64 MB, or an eighth of the heap when that is less. */
    static long defaultLimit() {
        return Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 8);
    }

    /**
     * Keeps a message's envelope and queue file bytes: {@code file} is the envelope header, then the content
     * (the buffers are kept, not copied: the caller must not change them afterwards). False when that would
     * pass the memory limit: the caller writes the file itself.
     */
    boolean add(Envelope envelope, List<ByteBuffer> file) {
        String id = envelope.queueId();
        long weight = 0;
        for (ByteBuffer b : file) weight += b.hasArray() ? b.array().length : b.remaining();
        if (bytes.addAndGet(weight) > limit) {
            bytes.addAndGet(-weight);
            return false;
        }
        Entry e = new Entry(id, envelope, List.copyOf(file), weight, System.nanoTime());
        if (byId.putIfAbsent(id, e) != null) {
            bytes.addAndGet(-weight);
            throw new IllegalStateException("already queued: " + id);
        }
        byAge.add(e);
        return true;
    }

    boolean contains(String id) { return byId.containsKey(id); }

    /** The envelope of an unfiled message as it was stored (no need to parse it back), or null. */
    Envelope envelope(String id) {
        Entry e = byId.get(id);
        return e == null ? null : e.envelope;
    }

    /**
     * The content of an unfiled message (the queue file's bytes after the envelope header, which is the
     * first buffer: no need to parse it to skip it), or null when it has a file (or is gone).
     */
    InputStream content(String id) {
        Entry e = byId.get(id);
        if (e == null) return null;
        List<ByteBuffer> parts;
        synchronized (e) {
            parts = e.file;
        }
        if (parts == null) return null;
        List<InputStream> streams = new ArrayList<>(parts.size() - 1);
        for (ByteBuffer b : parts.subList(1, parts.size())) streams.add(new BufferStream(b.duplicate()));
        return new SequenceInputStream(Collections.enumeration(streams));
    }

    /** Ids of the unfiled messages. */
    Set<String> ids() { return Set.copyOf(byId.keySet()); }

    /**
     * Forgets a message that was never filed and returns true: nothing on disk but its journal record. False
     * when it has a queue file (or was never here): the caller removes the file.
     */
    boolean remove(String id) {
        Entry e = byId.get(id);
        if (e == null) return false;
        synchronized (e) {
            if (e.filed) return false;
            e.gone = true;
            e.file = null;
        }
        forget(e);
        return true;
    }

    /** Gives an unfiled message its queue file (not forced). Does nothing when it has one or is gone. */
    void file(String id) throws IOException {
        Entry e = byId.get(id);
        if (e != null) file(e, false);
    }

    /** As {@link #file(String)}, and forces the queue file, filed now or before (retiring its journal segment). */
    void fileAndForce(String id) throws IOException {
        Entry e = byId.get(id);
        if (e == null || !file(e, true)) {
            try (FileChannel ch = FileChannel.open(messages.resolve(id), StandardOpenOption.READ)) {
                ch.force(true);
            } catch (java.nio.file.NoSuchFileException removed) {
                // removed meanwhile (its D record is in the journal), or by another process
            }
        }
    }

    /** Files every message that has waited longer than FILE_AFTER (GroupCommitter's filer thread, twice a second). */
    void fileOlderThan(long nanoTime) throws IOException {
        long cutoff = nanoTime - FILE_AFTER.toNanos();
        for (Entry e = byAge.peek(); e != null && e.storedAt - cutoff < 0; e = byAge.peek()) {
            file(e, false);   // first: a failure leaves it at the head, to be tried again
            byAge.poll();
        }
    }

    /** Files and forces every unfiled message (the spool closes), then syncs messages/. */
    void fileAll() throws IOException {
        for (Entry e : byId.values()) file(e, true);
        byAge.clear();
        FileSpool.syncDirectory(messages);
    }

    /** True when this call wrote the file. */
    private boolean file(Entry e, boolean force) throws IOException {
        synchronized (e) {
            if (e.filed || e.gone) return false;
            FileSpool.writeQueueFile(tmp.resolve(e.id), messages.resolve(e.id), e.file, force);
            e.filed = true;
            e.file = null;
        }
        forget(e);
        return true;
    }

    private void forget(Entry e) {
        if (byId.remove(e.id, e)) bytes.addAndGet(-e.weight);
    }

    /** An InputStream over one buffer, without copying it. */
    private static final class BufferStream extends InputStream {
        private final ByteBuffer buf;

        BufferStream(ByteBuffer buf) { this.buf = buf; }

        @Override public int read() {
            return buf.hasRemaining() ? buf.get() & 0xff : -1;
        }

        @Override public int read(byte[] b, int off, int len) {
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) return 0;
            if (!buf.hasRemaining()) return -1;
            int n = Math.min(len, buf.remaining());
            buf.get(b, off, n);
            return n;
        }

        @Override public int available() { return buf.remaining(); }
    }
}
