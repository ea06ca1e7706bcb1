package dev.portcullis.pickup;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.QueueIds;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/*
 * The server side of the maildrop (Postfix's pickup): moves what local programs dropped into the spool.
 *
 * For each file in new/ (oldest name first):
 *   1. claim it: rename new/<name> -> active/<name>. active/ is the server's alone (0700), so from here on
 *      nobody can swap the name for a symlink, a FIFO or another file (the sticky new/ lets the owner do
 *      exactly that). A file found in active/ at a scan is one whose processing was interrupted: it is
 *      processed again (a duplicate at worst, never a loss).
 *   2. check it without following links: a regular file with one link, within the size limit. Anything
 *      else goes to corrupt/.
 *   3. the identity is the file's owner (Files.getOwner): the kernel says who created it, whatever the
 *      file's "identity" line claims. The envelope's authUser is "local:<owner>", the key the per-identity
 *      abuse limits count under (as "user:<name>" is for SMTP AUTH).
 *   4. parse; a malformed file goes to corrupt/ and is logged, never lost silently, never fatal.
 *   5. the admit predicate may refuse the envelope: the file goes to held/ and is logged.
 *   6. Received: header + message into the spool (durable when store returns), queued.accept(id), and
 *      only then the file is deleted: a crash in between leaves a duplicate, never a loss.
 *
 * A spool failure (disk full) leaves the file in active/ and ends the scan; the next scan retries it.
 * Scans run on one virtual thread: at start, on every WatchService event for new/, and every RESCAN
 * as a safety net (events can overflow, and some file systems send none). Half-written files in tmp/
 * older than STALE_TMP belong to a sendmail that died; they are deleted at start and then hourly.
 */
public final class PickupService implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger("portcullis.pickup");
    static final Duration RESCAN = Duration.ofSeconds(5);
    static final Duration STALE_TMP = Duration.ofHours(1);
    /** The same default as [smtp] max_message_size. */
    static final long DEFAULT_MAX_MESSAGE_SIZE = 25L << 20;
    /** Names sendmail writes: time.pid.random. Anything else a user put in new/ is not ours to open. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final DateTimeFormatter RFC5322_DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);

    private final Path dir;
    private final Path tmp, fresh, active, corrupt, held;
    private final Spool spool;
    private final Consumer<String> queued;
    private final String hostname;
    private final Clock clock;
    private final Predicate<Envelope> admit;
    private volatile long maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;

    private final Object lifecycle = new Object();
    private volatile boolean running;
    private WatchService watcher;
    private Thread thread;
    private Instant lastTmpSweep = Instant.MIN;

    public PickupService(Path maildropDir, Spool spool, Consumer<String> queued, String hostname, Clock clock) {
        this(maildropDir, spool, queued, hostname, clock, envelope -> true);
    }

    /** @param admit decides whether a local submission may be queued; refused files go to held/ */
    public PickupService(Path maildropDir, Spool spool, Consumer<String> queued, String hostname, Clock clock,
                         Predicate<Envelope> admit) {
        this.dir = Objects.requireNonNull(maildropDir, "maildropDir");
        this.tmp = dir.resolve(Maildrop.TMP);
        this.fresh = dir.resolve(Maildrop.NEW);
        this.active = dir.resolve(Maildrop.ACTIVE);
        this.corrupt = dir.resolve(Maildrop.CORRUPT);
        this.held = dir.resolve(Maildrop.HELD);
        this.spool = Objects.requireNonNull(spool, "spool");
        this.queued = Objects.requireNonNull(queued, "queued");
        this.hostname = Objects.requireNonNull(hostname, "hostname");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.admit = Objects.requireNonNull(admit, "admit");
    }

    /** The largest message taken from the maildrop (the server's [smtp] max_message_size); larger go to held/. */
    public PickupService maxMessageSize(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("maxMessageSize must be positive");
        this.maxMessageSize = bytes;
        return this;
    }

    /**
     * Creates the folders (tmp/ and new/ 1733, the others 0700), removes stale half-written files and starts
     * watching. Files already waiting, or left in active/ by a crash, are taken at once on the service thread.
     */
    public void start() throws IOException {
        synchronized (lifecycle) {
            if (running) return;
            createFolders();
            sweepTmp();
            WatchService w = null;
            try {
                w = fresh.getFileSystem().newWatchService();
                fresh.register(w, StandardWatchEventKinds.ENTRY_CREATE);
            } catch (IOException | UnsupportedOperationException e) {
                LOG.warning(() -> "pickup: cannot watch " + fresh + " (" + e.getMessage() + "): scanning every "
                        + RESCAN.toSeconds() + "s only");
                if (w != null) {
                    try {
                        w.close();
                    } catch (IOException ignored) {
                        // it was never used
                    }
                }
                w = null;
            }
            watcher = w;
            running = true;
            thread = Thread.ofVirtual().name("pickup").start(this::loop);
            LOG.info(() -> "pickup: watching " + fresh);
        }
    }

    /** Stops the service; a file being queued is finished first (waits up to 10 seconds). Idempotent. */
    @Override public void close() {
        Thread t;
        synchronized (lifecycle) {
            if (!running) return;
            running = false;
            t = thread;
            if (watcher != null) {
                try {
                    watcher.close();   // wakes the loop from poll()
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
        try {
            if (!t.join(Duration.ofSeconds(10))) LOG.warning("pickup: still busy after 10s; leaving it to finish");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop() {
        while (running) {
            try {
                scan();
            } catch (RuntimeException | IOException e) {
                LOG.log(Level.SEVERE, "pickup: scan of " + dir + " failed; retrying in " + RESCAN.toSeconds() + "s", e);
            }
            try {
                if (watcher == null) {
                    Thread.sleep(RESCAN);
                    continue;
                }
                WatchKey key = watcher.poll(RESCAN.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    key.pollEvents();   // which file does not matter: the scan takes them all
                    key.reset();
                }
            } catch (ClosedWatchServiceException | InterruptedException stopping) {
                return;
            }
        }
    }

    /**
     * Takes every waiting file: first those left in active/ by an interrupted run, then new/, oldest name
     * first. Returns how many were queued. Runs on the service thread; tests may call it directly.
     */
    synchronized int scan() throws IOException {
        if (Duration.between(lastTmpSweep, clock.instant()).compareTo(STALE_TMP) >= 0) sweepTmp();
        int count = 0;
        for (Path p : sorted(active)) {
            Outcome o = process(p);
            if (o == Outcome.RETRY) return count;
            if (o == Outcome.QUEUED) count++;
        }
        for (Path p : sorted(fresh)) {
            if (!running && Thread.currentThread() == thread) break;   // close() asked us to stop
            Path claimed = claim(p);
            if (claimed == null) continue;
            Outcome o = process(claimed);
            if (o == Outcome.RETRY) return count;
            if (o == Outcome.QUEUED) count++;
        }
        return count;
    }

    private enum Outcome { QUEUED, SET_ASIDE, RETRY }

    /** new/<name> -> active/<name>; null when it vanished (its owner took it back) or cannot be moved. */
    private Path claim(Path p) {
        String name = p.getFileName().toString();
        Path target = active.resolve(NAME.matcher(name).matches() ? name : "badname." + QueueIds.next());
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) target = active.resolve(QueueIds.next() + ".dup");
        try {
            Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (NoSuchFileException gone) {
            return null;
        } catch (IOException e) {
            LOG.warning(() -> "pickup: cannot claim " + p + ": " + e);
            return null;
        }
    }

    private Outcome process(Path file) {
        String name = file.getFileName().toString();
        String owner = "unknown";
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            owner = owner(file);
            if (!attrs.isRegularFile())
                return setAside(file, corrupt, owner, "not a regular file (" + (attrs.isSymbolicLink() ? "a symbolic link"
                        : attrs.isDirectory() ? "a directory" : "a device, FIFO or socket") + ")");
            if (links(file) > 1)
                return setAside(file, corrupt, owner, "has other hard links: not proof of who wrote it");
            if (attrs.size() > maxMessageSize + Maildrop.MAX_HEADER)
                return setAside(file, held, owner, "too large: " + attrs.size() + " bytes");

            Maildrop.Entry entry;
            try {
                entry = Maildrop.parse(read(file, maxMessageSize + Maildrop.MAX_HEADER));
            } catch (IOException e) {
                return setAside(file, corrupt, owner, e.getMessage());
            }
            byte[] message = Maildrop.crlf(entry.message());
            if (message.length > maxMessageSize)
                return setAside(file, held, owner, "too large: " + message.length + " bytes, over " + maxMessageSize);

            String id = QueueIds.next();
            Envelope envelope = new Envelope(id, entry.sender(), entry.recipients(), clock.instant(), "127.0.0.1",
                    "localhost", "local:" + owner, Map.of());
            boolean admitted;
            try {
                admitted = admit.test(envelope);
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "pickup: admit check failed for " + name + "; holding it", e);
                admitted = false;
            }
            if (!admitted) return setAside(file, held, owner, "refused by the admit check from=" + entry.sender()
                    + " to=" + entry.recipients());

            byte[] received = receivedHeader(owner, id, entry.recipients()).getBytes(StandardCharsets.UTF_8);
            try {
                spool.store(envelope, List.of(ByteBuffer.wrap(received), ByteBuffer.wrap(message)));
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.SEVERE, "pickup: spool failed for " + name + " (left in " + active + ", retried later)", e);
                return Outcome.RETRY;
            }
            String claimed = entry.identity() != null && !entry.identity().equals(owner)
                    ? " claimed_identity=" + quote(entry.identity()) : "";
            String who = owner;
            LOG.info(() -> "pickup queue_id=" + id + " identity=local:" + who + claimed + " from=" + entry.sender()
                    + " to=" + entry.recipients() + " size=" + message.length + " file=" + name);
            try {
                queued.accept(id);
            } catch (RuntimeException e) {
                // It is in the spool, which delivery recovers at restart; dropping the file now is right.
                LOG.log(Level.SEVERE, "pickup: " + id + " queued but not handed to delivery", e);
            }
            try {
                Files.delete(file);
            } catch (IOException e) {
                // Next scan queues it again: a duplicate. Say so, loudly.
                LOG.log(Level.SEVERE, "pickup: " + id + " queued but " + file + " could not be removed: it will be sent again", e);
            }
            return Outcome.QUEUED;
        } catch (NoSuchFileException gone) {
            return Outcome.SET_ASIDE;   // cannot happen in active/ unless an administrator removed it
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.SEVERE, "pickup: cannot process " + file + " (left in place, retried later)", e);
            return Outcome.RETRY;
        }
    }

    /** Moves a file we will not queue to corrupt/ or held/, keeping it for a human. */
    private Outcome setAside(Path file, Path folder, String owner, String why) {
        String name = file.getFileName().toString();
        Path target = folder.resolve(name);
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) target = folder.resolve(name + "." + QueueIds.next());
        Path to = target;
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            LOG.log(Level.SEVERE, "pickup: cannot move " + file + " to " + folder + " (" + why + ")", e);
            return Outcome.RETRY;
        }
        LOG.warning(() -> "pickup " + folder.getFileName() + " identity=local:" + owner + " file=" + Maildrop.abbreviate(name)
                + " moved_to=" + to + " reason=" + quote(why));
        return Outcome.SET_ASIDE;
    }

    /** RFC 5321 4.4 trace field for a local submission, folded like the SMTP one. */
    private String receivedHeader(String owner, String id, List<Address> recipients) {
        StringBuilder sb = new StringBuilder(160);
        sb.append("Received: from local user ").append(sanitize(owner)).append("\r\n");
        sb.append("\tby ").append(hostname).append(" (Portcullis) with local id ").append(id).append("\r\n");
        if (recipients.size() == 1) sb.append("\tfor ").append(sanitize(recipients.getFirst().path())).append(";\r\n");
        else sb.append("\t;\r\n");
        sb.append('\t').append(ZonedDateTime.now(clock).format(RFC5322_DATE)).append("\r\n");
        return sb.toString();
    }

    // ---- files ------------------------------------------------------------------------------------

    private void createFolders() throws IOException {
        Files.createDirectories(dir);
        try {
            // Local users only pass through it to reach tmp/ and new/ (the data folder needs o+x too).
            Maildrop.setUnixMode(dir, 0711);
        } catch (IOException e) {
            LOG.warning(() -> "pickup: cannot set mode 0711 on " + dir + " (" + e.getMessage() + ")");
        }
        for (String sub : List.of(Maildrop.TMP, Maildrop.NEW)) {
            Path p = dir.resolve(sub);
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException exists) {
                if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) throw new IOException(p + " is not a folder");
            }
            try {
                Maildrop.setUnixMode(p, Maildrop.DROP_MODE);
            } catch (IOException e) {
                LOG.warning(() -> "pickup: cannot set mode 1733 on " + p + " (" + e.getMessage()
                        + "): local users may be unable to drop mail");
            }
        }
        for (String sub : List.of(Maildrop.ACTIVE, Maildrop.CORRUPT, Maildrop.HELD)) {
            Path p = dir.resolve(sub);
            try {
                try {
                    Files.createDirectory(p);
                } catch (FileAlreadyExistsException exists) {
                    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) throw new IOException(p + " is not a folder");
                }
                // Fails unless the folder is ours: one another user prepared is not a safe place to claim into.
                Maildrop.setUnixMode(p, Maildrop.PRIVATE_MODE);
            } catch (IOException e) {
                throw new IOException("maildrop: cannot make " + p + " private to the server's user ("
                        + System.getProperty("user.name") + "); " + dir + " and its folders must belong to it: " + e, e);
            }
        }
        Maildrop.syncDirectory(dir);
    }

    /** Deletes files in tmp/ older than STALE_TMP: left by a sendmail that died before renaming them. */
    private void sweepTmp() {
        Instant now = clock.instant();
        lastTmpSweep = now;
        FileTime cutoff = FileTime.from(now.minus(STALE_TMP));
        for (Path p : sorted(tmp)) {
            try {
                FileTime modified = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
                if (modified.compareTo(cutoff) < 0) {
                    Files.deleteIfExists(p);
                    LOG.info(() -> "pickup: removed stale half-written " + p + " (last written " + modified + ")");
                }
            } catch (IOException e) {
                LOG.warning(() -> "pickup: cannot remove stale " + p + ": " + e);
            }
        }
    }

    private static List<Path> sorted(Path folder) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> all = Files.newDirectoryStream(folder)) {
            for (Path p : all) out.add(p);
        } catch (IOException e) {
            LOG.warning(() -> "pickup: cannot list " + folder + ": " + e);
        }
        out.sort(null);   // names start with the time: oldest first
        return out;
    }

    private static byte[] read(Path file, long limit) throws IOException {
        try (InputStream in = Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 16, limit + 1));
            // The owner may still hold it open and append; what was over the limit at stat time is refused
            // there, this only keeps a growing file from exhausting memory.
            if (bytes.length > limit) throw new IOException("corrupt maildrop file: grew past the size limit while read");
            return bytes;
        }
    }

    private static String owner(Path file) throws IOException {
        try {
            return Files.getOwner(file, LinkOption.NOFOLLOW_LINKS).getName();
        } catch (UnsupportedOperationException noOwners) {
            return "unknown";
        }
    }

    private static int links(Path file) throws IOException {
        try {
            return ((Number) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).intValue();
        } catch (UnsupportedOperationException | IllegalArgumentException noUnixView) {
            return 1;
        }
    }

    private static String sanitize(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length() && i < 255; i++) {
            char c = s.charAt(i);
            sb.append(c > ' ' && c < 127 && c != '(' && c != ')' && c != ';' ? c : '_');
        }
        return sb.toString();
    }

    private static String quote(String s) {
        return "\"" + s.replaceAll("[\\x00-\\x1f\\x7f]", "?").replace("\"", "'") + "\"";
    }
}
