package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/*
 * The durable queue on disk (qmail's and Postfix's recipe, DESIGN "250 means the message is on disk").
 *
 *   <queueDir>/tmp/<id>            being written; never read; emptied by recover()
 *   <queueDir>/messages/<id>       queued: envelope header + content in one file (EnvelopeFormat)
 *   <queueDir>/messages/<id>.done  recipients already delivered or bounced, one per line, append-only
 *   <queueDir>/messages/<id>.hold  present while the message is held: the reason
 *   <queueDir>/state/<id>          outbound retry state of the recipients not done yet (RetryState), replaced
 *                                  whole by an atomic rename; in a folder of its own so that messages/ keeps
 *                                  holding what the queue holds
 *
 *   <queueDir>/journal/            the write-ahead journal of group commit (SpoolJournal), server only
 *
 * Two ways to store, with one guarantee (store() returns only once the message survives a crash):
 * - Classic (a FileSpool on its own: tools, tests): a file appears in messages/ only by an atomic rename
 *   of a fully written and forced tmp file, followed by an fsync of messages/; only then does store()
 *   return. So after a crash, messages/ holds whole messages only, and every message store() returned for.
 * - Group commit (the server, after startGroupCommit()): the message goes to the journal, which one writer
 *   thread forces once for every message waiting (GroupCommitter), and its bytes stay in memory without
 *   a queue file (UnfiledMessages): most messages are delivered and removed before they ever need one.
 *   A message that must be changed (done, hold, retry state), waits a while, or does not fit in memory
 *   gets its queue file written and renamed into messages/, not forced: a crash may lose or truncate it,
 *   and recover() writes every such file again from the journal before anything reads the queue. Until
 *   then, other processes (the queue tools) do not see the message in messages/.
 * - A recipient is in .done only after the delivery it records is durable (the caller's job), and the
 *   line itself is forced before markDone() returns. A torn last line (no LF) is ignored: that recipient
 *   is delivered again, a duplicate, never a loss.
 * - remove() deletes the message before its .done, so a crash in between leaves an orphan .done (removed
 *   by recover()) rather than a message with its done-list gone (delivered again to everyone). The same
 *   goes for the state file.
 * - A state file is written to tmp/, forced, renamed over the old one and state/ synced: a crash leaves
 *   the old state or the new one. Losing it costs an early retry or a second delay warning, never a
 *   message, so an unreadable one is logged and treated as absent rather than stopping delivery.
 * - Queue ids are [A-Za-z0-9]+ (see QueueIds), so no id can name a path outside the queue.
 *
 * Directory fsync opens the directory for reading and forces it, which Linux supports (and needs: a new
 * name is durable only once its directory is synced).
 */
public final class FileSpool implements Spool, AutoCloseable {

    private static final Logger LOG = Logger.getLogger("portcullis.queue");
    private static final Pattern QUEUE_ID = Pattern.compile("[A-Za-z0-9]{1,64}");
    private static final String DONE_SUFFIX = ".done";
    private static final String HOLD_SUFFIX = ".hold";

    private final Path queueDir;
    private final Path tmp;
    private final Path messages;
    private final Path state;
    private volatile GroupCommitter committer;   // null: classic stores, one fsync each
    private volatile UnfiledMessages unfiled;    // null: classic stores, every message has its file

    public FileSpool(Path queueDir) throws IOException {
        this.queueDir = queueDir;
        this.tmp = queueDir.resolve("tmp");
        this.messages = queueDir.resolve("messages");
        this.state = queueDir.resolve("state");
        for (Path dir : List.of(queueDir, tmp, messages, state)) {
            if (Files.isDirectory(dir)) continue;
            Files.createDirectories(dir);
            syncDirectory(dir.toAbsolutePath().getParent());   // make the new folder's name durable too
        }
    }

    /**
     * From now on, stores are made durable in groups through the journal (see the class comment). Call
     * once, after {@link #recover}, in the one process that owns the queue (the server).
     */
    public void startGroupCommit() throws IOException {
        startGroupCommit(GroupCommitter.Segments.DEFAULT);
    }

    void startGroupCommit(GroupCommitter.Segments segments) throws IOException {
        startGroupCommit(segments, UnfiledMessages.defaultLimit());
    }

    /** As {@link #startGroupCommit()}, keeping at most {@code memoryLimit} bytes of messages without a queue file. */
    synchronized void startGroupCommit(GroupCommitter.Segments segments, long memoryLimit) throws IOException {
        if (committer != null) throw new IllegalStateException("group commit already started");
        UnfiledMessages kept = new UnfiledMessages(tmp, messages, memoryLimit);
        committer = new GroupCommitter(queueDir, segments, kept);
        unfiled = kept;
    }

    /** The group committer's figures, or null when stores are classic (tests and benchmarks read them). */
    GroupCommitter groupCommit() { return committer; }

    /**
     * Gives every message kept in memory its queue file, forced, then stops group commit (waiting for the
     * batch in progress); later stores fail.
     */
    @Override
    public synchronized void close() {
        if (committer == null) return;
        try {
            unfiled.fileAll();
        } catch (IOException | RuntimeException e) {
            // The journal still holds them: the next start's recovery writes their files.
            LOG.warning(() -> "spool: could not write the queue files of messages kept in memory, recovery will: " + e);
        }
        committer.close();
    }

    @Override
    public void store(Envelope envelope, List<ByteBuffer> content) throws IOException {
        String id = checkId(envelope.queueId());
        Path message = messages.resolve(id);
        GroupCommitter group = committer;
        if (group != null) {
            // The server's own ids (QueueIds: increasing within the process) cannot meet a queued one; a
            // duplicate in memory is refused there. No stat per message.
            storeInGroup(group, unfiled, envelope, content, message);
            return;
        }
        // rename(2) would silently replace a queued message; ids are unique, so this is a bug upstream.
        if (Files.exists(message)) throw new FileAlreadyExistsException(message.toString(), null, "already queued");
        Path temp = tmp.resolve(id);
        // Opened outside the clean-up below: a tmp file we failed to create is not ours to delete.
        FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        boolean renamed = false;
        try {
            try (FileChannel ch = channel) {
                writeFully(ch, ByteBuffer.wrap(EnvelopeFormat.header(envelope)));
                for (ByteBuffer part : content) writeFully(ch, part.duplicate());  // leave the caller's buffers as they were
                ch.force(true);
            }
            Files.move(temp, message, StandardCopyOption.ATOMIC_MOVE);
            renamed = true;
            syncDirectory(messages);
        } catch (IOException | RuntimeException e) {
            // The contract: when store throws, nothing was queued (the client gets 451 and sends again).
            // Undo a rename whose directory sync failed, or we could deliver a message we never said 250 to.
            cleanUp(renamed ? message : temp, e);
            throw e;
        }
    }

    private void storeInGroup(GroupCommitter group, UnfiledMessages kept, Envelope envelope, List<ByteBuffer> content,
            Path message) throws IOException {
        String id = envelope.queueId();
        List<ByteBuffer> file = new ArrayList<>(content.size() + 1);
        file.add(ByteBuffer.wrap(EnvelopeFormat.header(envelope)));
        for (ByteBuffer part : content) file.add(part.duplicate());   // leave the caller's buffers as they were
        long length = 0;
        for (ByteBuffer part : file) length += part.remaining();
        int crc = SpoolJournal.crc(file);
        // In memory before the commit, so that no moment exists where the journal holds the message and
        // neither memory nor messages/ does (the writer may retire or file it as soon as it is committed).
        if (kept.add(envelope, file)) {
            try {
                group.commit(id, file, length, crc);
            } catch (IOException | RuntimeException e) {
                if (!kept.remove(id)) cleanUp(message, e);   // filed meanwhile: that file must go too
                throw e;
            }
            return;
        }
        // Too much in memory already: the file is written now, as UnfiledMessages would file it later.
        group.commit(id, file, length, crc);
        try {
            writeQueueFile(tmp.resolve(id), message, file, false);
        } catch (IOException | RuntimeException e) {
            group.removed(id);   // the journal has it: recovery must not deliver a message we refused
            throw e;
        }
    }

    @Override
    public List<String> recover() throws IOException {
        if (committer != null) throw new IllegalStateException("recover() runs before startGroupCommit()");
        recoverJournal();
        try (DirectoryStream<Path> half = Files.newDirectoryStream(tmp)) {
            for (Path p : half) {
                LOG.info(() -> "recover: removing half-written " + p.getFileName());
                Files.deleteIfExists(p);
            }
        }
        for (String suffix : List.of(DONE_SUFFIX, HOLD_SUFFIX)) { // records of a message removed since (a delete racing a hold)
            try (DirectoryStream<Path> all = Files.newDirectoryStream(messages, "*" + suffix)) {
                for (Path record : all) {
                    String name = record.getFileName().toString();
                    Path message = messages.resolve(name.substring(0, name.length() - suffix.length()));
                    if (!Files.exists(message)) {
                        LOG.info(() -> "recover: removing " + name + " of a message already removed");
                        Files.deleteIfExists(record);
                    }
                }
            }
        }
        try (DirectoryStream<Path> all = Files.newDirectoryStream(state)) {
            for (Path p : all) {
                String name = p.getFileName().toString();
                if (!QUEUE_ID.matcher(name).matches() || !Files.exists(messages.resolve(name))) {
                    LOG.info(() -> "recover: removing retry state " + name + " of a message already removed");
                    Files.deleteIfExists(p);
                }
            }
        }
        return list();
    }

    @Override
    public Envelope envelope(String queueId) throws IOException {
        UnfiledMessages kept = unfiled;
        Envelope inMemory = kept == null ? null : kept.envelope(checkId(queueId));
        if (inMemory != null) return inMemory;
        try (InputStream in = openMessage(queueId)) {
            return EnvelopeFormat.read(in, queueId);
        }
    }

    @Override
    public InputStream content(String queueId) throws IOException {
        UnfiledMessages kept = unfiled;
        InputStream inMemory = kept == null ? null : kept.content(checkId(queueId));
        if (inMemory != null) return inMemory;
        InputStream in = openMessage(queueId);
        try {
            EnvelopeFormat.read(in, queueId);   // skip the header: the stream now starts at the content
            return in;
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    @Override
    public void markDone(String queueId, Address recipient) throws IOException {
        Path message = messages.resolve(checkId(queueId));
        fileIfUnfiled(queueId);
        if (!Files.exists(message)) throw new NoSuchFileException(message.toString(), null, "not queued");
        Path done = doneFile(queueId);
        boolean created = !Files.exists(done);
        byte[] line = (EnvelopeFormat.address(recipient) + "\n").getBytes(StandardCharsets.US_ASCII);
        // One write of a whole line in append mode: concurrent markers cannot interleave inside a line.
        try (FileChannel ch = FileChannel.open(done, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            writeFully(ch, ByteBuffer.wrap(line));
            ch.force(true);
        }
        if (created) syncDirectory(messages);
    }

    @Override
    public Set<Address> done(String queueId) throws IOException {
        byte[] bytes;
        Path file = doneFile(queueId);
        if (unfiled(queueId)) return Set.of();   // markDone files a message first
        // Most messages have no done record: a stat is cheaper than an open failing with an exception.
        if (!Files.exists(file)) return Set.of();
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return Set.of();
        }
        Set<Address> done = new LinkedHashSet<>();
        int start = 0;
        for (int lf = indexOf(bytes, start); lf >= 0; start = lf + 1, lf = indexOf(bytes, start)) {
            String line = new String(bytes, start, lf - start, StandardCharsets.ISO_8859_1);
            try {
                done.add(EnvelopeFormat.parseAddress(line, queueId));
            } catch (IOException e) {
                // Garbage after a crash (some file systems leave zeros): forgetting a done recipient
                // means one duplicate delivery; refusing the whole file could mean many.
                LOG.warning(() -> queueId + ": ignoring unreadable .done line: " + e.getMessage());
            }
        }
        // Bytes after the last LF are a line torn by a crash: that recipient was not recorded done.
        return Collections.unmodifiableSet(done);
    }

    @Override
    public void hold(String queueId, String reason) throws IOException {
        fileIfUnfiled(checkId(queueId));
        if (!Files.exists(messages.resolve(checkId(queueId)))) throw new NoSuchFileException(queueId);
        // a name of its own per call: two holds of one message at the same instant must not share a temp file
        Path tmpHold = tmp.resolve(queueId + "." + Long.toUnsignedString(java.util.concurrent.ThreadLocalRandom.current().nextLong(), 36) + HOLD_SUFFIX);
        Files.writeString(tmpHold, reason.replaceAll("[\r\n]+", " "), StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmpHold, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmpHold, holdFile(queueId), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(messages);
    }

    @Override
    public void release(String queueId) throws IOException {
        Files.deleteIfExists(holdFile(queueId));
        syncDirectory(messages);
    }

    @Override
    public String heldReason(String queueId) throws IOException {
        if (unfiled(queueId)) return null;   // hold files a message first
        if (!Files.exists(holdFile(queueId))) return null;   // the common case, without an exception
        try {
            return Files.readString(holdFile(queueId), StandardCharsets.UTF_8);
        } catch (NoSuchFileException notHeld) {
            return null;
        }
    }

    private Path holdFile(String queueId) { return messages.resolve(checkId(queueId) + HOLD_SUFFIX); }

    @Override
    public void remove(String queueId) throws IOException {
        UnfiledMessages kept = unfiled;
        if (kept != null && kept.remove(checkId(queueId))) {
            committer.removed(queueId);   // nothing on disk but its journal record
            return;
        }
        Files.deleteIfExists(messages.resolve(checkId(queueId)));
        Files.deleteIfExists(doneFile(queueId));
        Files.deleteIfExists(holdFile(queueId));
        boolean hadState = Files.deleteIfExists(stateFile(queueId));
        GroupCommitter group = committer;
        if (group != null) {
            // The D record tells recovery the message is gone, whether or not the unlinks above survive.
            group.removed(queueId);
            return;
        }
        // Not strictly needed (a removal lost in a crash only means a duplicate), but it keeps duplicates rare.
        syncDirectory(messages);
        if (hadState) syncDirectory(state);
        // Another process than the server (`portcullis queue delete`): the server's journal may still hold
        // the message, and must not bring it back after a crash.
        if (SpoolJournal.exists(queueDir)) SpoolJournal.appendRemovedFromOutside(queueDir, queueId);
    }

    /*
     * Makes every message the journal holds durable on its own, then empties the journal: a queue file
     * missing, cut short or different (a crash before the kernel wrote it) is written again from the
     * journal; one the journal says was removed is removed, in case its unlink was lost.
     */
    private void recoverJournal() throws IOException {
        if (!SpoolJournal.exists(queueDir)) return;
        SpoolJournal.Contents journal = SpoolJournal.read(queueDir);
        int restored = 0;
        for (SpoolJournal.StoredRecord r : journal.live()) {
            Path message = messages.resolve(r.id());
            if (intact(message, r)) {
                try (FileChannel ch = FileChannel.open(message, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                continue;
            }
            writeQueueFile(tmp.resolve(r.id() + ".restore"), message, List.of(ByteBuffer.wrap(r.read())), true);
            restored++;
        }
        for (String id : journal.removed()) {
            if (Files.deleteIfExists(messages.resolve(id))) {
                LOG.info(() -> "recover: " + id + " was removed before the crash, removing it again");
                Files.deleteIfExists(doneFile(id));
                Files.deleteIfExists(holdFile(id));
                Files.deleteIfExists(stateFile(id));
            }
        }
        syncDirectory(messages);
        syncDirectory(state);
        SpoolJournal.deleteAll(queueDir);
        int n = restored;
        if (n > 0 || !journal.live().isEmpty())
            LOG.info(() -> "recover: journal held " + journal.live().size() + " queued message(s), " + n + " written again from it");
    }

    private static boolean intact(Path message, SpoolJournal.StoredRecord r) throws IOException {
        try (FileChannel ch = FileChannel.open(message, StandardOpenOption.READ)) {
            if (ch.size() != r.length()) return false;
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (ch.read(buf) > 0) {
                buf.flip();
                crc.update(buf);
                buf.clear();
            }
            return (int) crc.getValue() == r.crc();
        } catch (NoSuchFileException missing) {
            return false;
        }
    }

    @Override
    public Map<Address, RetryState> retryState(String queueId) throws IOException {
        if (unfiled(checkId(queueId))) return Map.of();   // saveRetryState files a message first
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(stateFile(queueId));
        } catch (NoSuchFileException none) {
            return Map.of();
        }
        try {
            return RetryStateFormat.parse(new String(bytes, StandardCharsets.ISO_8859_1), queueId);
        } catch (IOException | RuntimeException e) {
            // Written by an atomic rename, so only a damaged disk gets here: the recipients are retried at
            // once instead of after their back-off, which is harmless; refusing would stop their delivery.
            LOG.warning(() -> queueId + ": ignoring unreadable retry state: " + e.getMessage());
            return Map.of();
        }
    }

    @Override
    public void saveRetryState(String queueId, Collection<RetryState> states) throws IOException {
        Path message = messages.resolve(checkId(queueId));
        fileIfUnfiled(queueId);
        if (!Files.exists(message)) throw new NoSuchFileException(message.toString(), null, "not queued");
        Path target = stateFile(queueId);
        if (states.isEmpty()) {
            if (Files.deleteIfExists(target)) syncDirectory(state);
            return;
        }
        byte[] text = RetryStateFormat.format(queueId, states).getBytes(StandardCharsets.US_ASCII);
        // A name of its own per write: two writers never share a temporary file (callers serialise per
        // message anyway). recover() empties tmp/ of whatever a crash left.
        Path temp = Files.createTempFile(tmp, queueId + ".", ".state");
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.wrap(text));
                ch.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            cleanUp(temp, e);
            throw e;
        }
        syncDirectory(state);
    }

    private Path stateFile(String queueId) {
        return state.resolve(checkId(queueId));
    }

    @Override
    public List<String> list() throws IOException {
        // Those in memory first: one filed while the folder is read is then in both lists, never in neither.
        UnfiledMessages kept = unfiled;
        Set<String> inMemory = kept == null ? Set.of() : kept.ids();
        List<String> ids = new ArrayList<>();
        try (DirectoryStream<Path> all = Files.newDirectoryStream(messages)) {
            for (Path p : all) {
                String name = p.getFileName().toString();
                if (QUEUE_ID.matcher(name).matches()) ids.add(name);
                else if (!name.endsWith(DONE_SUFFIX) && !name.endsWith(HOLD_SUFFIX)) LOG.warning(() -> "queue: ignoring stray file " + p);
            }
        }
        if (!inMemory.isEmpty()) {
            Set<String> all = new java.util.HashSet<>(ids);
            all.addAll(inMemory);
            ids = new ArrayList<>(all);
        }
        ids.sort(null);   // QueueIds sort by time
        return ids;
    }

    private InputStream openMessage(String queueId) throws IOException {
        return new BufferedInputStream(Files.newInputStream(messages.resolve(checkId(queueId))), 64 * 1024);
    }

    /** Whether the message has no queue file yet (group commit keeps it in memory): no records exist for it. */
    private boolean unfiled(String queueId) {
        UnfiledMessages kept = unfiled;
        return kept != null && kept.contains(queueId);
    }

    /** Gives a message kept in memory its queue file, before something is recorded beside it. */
    private void fileIfUnfiled(String queueId) throws IOException {
        UnfiledMessages kept = unfiled;
        if (kept != null) kept.file(queueId);
    }

    private Path doneFile(String queueId) {
        return messages.resolve(checkId(queueId) + DONE_SUFFIX);
    }

    static boolean isQueueId(String s) {
        return QUEUE_ID.matcher(s).matches();
    }

    private static String checkId(String queueId) {
        Objects.requireNonNull(queueId, "queueId");
        if (!QUEUE_ID.matcher(queueId).matches())
            throw new IllegalArgumentException("not a queue id: " + queueId.replaceAll("[^\\x21-\\x7e]", "?"));
        return queueId;
    }

    /**
     * Writes a queue file the one way every path but the classic store does (group commit's files, those
     * of messages kept in memory, recovery's): {@code parts} into {@code temp} (created or emptied), forced
     * when asked, then renamed over {@code target}. On failure the temp file is gone and nothing was renamed.
     */
    static void writeQueueFile(Path temp, Path target, List<ByteBuffer> parts, boolean force) throws IOException {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (ByteBuffer part : parts) writeFully(ch, part.duplicate());   // the parts stay as they were
            if (force) ch.force(true);
        } catch (IOException | RuntimeException e) {
            cleanUp(temp, e);
            throw e;
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static int indexOf(byte[] bytes, int from) {
        for (int i = from; i < bytes.length; i++) if (bytes[i] == '\n') return i;
        return -1;
    }

    private static void cleanUp(Path file, Exception cause) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
