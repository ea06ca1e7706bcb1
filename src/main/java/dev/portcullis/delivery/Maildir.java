package dev.portcullis.delivery;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/*
 * One delivery into a Maildir (https://cr.yp.to/proto/maildir.html, as Dovecot and mutt read it).
 *
 * Invariants: a message is visible in new/ only whole: it is written under tmp/, forced, then renamed
 * into new/ and new/ is synced, so when deliver() returns the message survives a crash and the caller
 * may mark the recipient done. A crash before that leaves at most a file in tmp/, which readers ignore
 * (and Dovecot cleans up after 36 hours).
 *
 * Unique names follow the modern convention  <seconds>.M<micros>P<pid>Q<deliveries>.<host>:  the pid and
 * the per-process delivery counter make a name unique within one host and second, the microseconds
 * across restarts. '/' and ':' in the host name are written \057 and \072, as the spec asks (':' starts
 * the flags of a message in cur/).
 *
 * Lines are stored with LF endings, the Unix Maildir convention (Postfix local(8), Dovecot LDA), with
 * Return-Path (RFC 5321 4.4) and Delivered-To prepended, as an MDA does at final delivery.
 */
final class Maildir {

    private static final AtomicLong DELIVERIES = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();
    private static final boolean POSIX = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    private final Path root;
    private final String host;

    Maildir(Path root, String hostname) {
        this.root = root;
        this.host = escapeHost(hostname == null || hostname.isBlank() ? "localhost" : hostname);
    }

    Path root() { return root; }

    /**
     * Delivers {@code content} (CRLF lines, as queued) and returns the file in new/.
     * Reads {@code content} to its end; the caller closes it.
     */
    Path deliver(Address returnPath, Address deliveredTo, InputStream content) throws IOException {
        if (!READY.contains(root)) {
            makeFolders();
            READY.add(root);
        }
        String name = uniqueName();
        Path temp = root.resolve("tmp").resolve(name);
        Path target = root.resolve("new").resolve(name);
        // Opened outside the clean-up below: a tmp file we failed to create is not ours to delete.
        FileChannel channel;
        try {
            channel = openTemp(temp);
        } catch (java.nio.file.NoSuchFileException gone) {
            // the folders went away since we made them (a user removed the mailbox): make them again
            READY.remove(root);
            makeFolders();
            READY.add(root);
            channel = openTemp(temp);
        }
        boolean done = false;
        try {
            try (FileChannel ch = channel) {
                String header = "Return-Path: " + oneLine(returnPath.path()) + "\n"
                        + "Delivered-To: " + oneLine(deliveredTo.mailbox()) + "\n";
                writeFully(ch, ByteBuffer.wrap(header.getBytes(StandardCharsets.UTF_8)));
                copyWithLf(content, ch);
                ch.force(true);
            }
            // rename(2) rather than the spec's link()+unlink(): the name is unique by construction, and
            // rename also works on file systems without hard links.
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            DirectorySync.sync(root.resolve("new"));   // one fsync for the deliveries renamed meanwhile
            done = true;
            return target;
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // a stray tmp/ file is harmless: readers never look there
                }
            }
        }
    }

    private static FileChannel openTemp(Path temp) throws IOException {
        return POSIX
                ? FileChannel.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                : FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    /**
     * Maildirs whose folders this process has seen or made: four stat calls a delivery fewer. When they
     * have gone since (a user removed the mailbox), opening the tmp/ file fails and they are made again.
     */
    private static final Set<Path> READY = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Creates root, tmp/, new/ and cur/ (mode 700) when missing, durably. */
    private void makeFolders() throws IOException {
        for (Path dir : new Path[] {root, root.resolve("tmp"), root.resolve("new"), root.resolve("cur")}) {
            if (Files.isDirectory(dir)) continue;
            Path parent = dir.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) Files.createDirectories(parent);
            try {
                Files.createDirectory(dir, privateDir());
            } catch (FileAlreadyExistsException raced) {
                if (!Files.isDirectory(dir)) throw raced;   // two deliveries creating it at once: fine
            }
            if (parent != null) DirectorySync.sync(parent);
        }
    }

    private String uniqueName() {
        Instant now = Instant.now();
        return now.getEpochSecond() + ".M" + now.getNano() / 1000 + "P" + PID + "Q" + DELIVERIES.incrementAndGet()
                + "." + host;
    }

    static String escapeHost(String hostname) {
        return hostname.replace("/", "\\057").replace(":", "\\072");
    }

    /** Copies, turning each CRLF into LF; a lone CR or LF is kept as it is. */
    private static void copyWithLf(InputStream in, FileChannel out) throws IOException {
        byte[] buf = new byte[64 * 1024];
        byte[] converted = new byte[buf.length + 1];
        boolean pendingCr = false;
        for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
            int len = 0;
            for (int i = 0; i < n; i++) {
                byte b = buf[i];
                if (pendingCr) {
                    pendingCr = false;
                    if (b == '\n') { converted[len++] = '\n'; continue; }
                    converted[len++] = '\r';
                }
                if (b == '\r') pendingCr = true;
                else converted[len++] = b;
            }
            writeFully(out, ByteBuffer.wrap(converted, 0, len));
        }
        if (pendingCr) writeFully(out, ByteBuffer.wrap(new byte[] {'\r'}));
    }

    /** The SMTP layer never lets CR or LF into an address; never let one start a header of its own. */
    private static String oneLine(String s) {
        return s.replace('\r', ' ').replace('\n', ' ');
    }

    private static FileAttribute<?>[] privateDir() {
        return POSIX
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
                : new FileAttribute<?>[0];
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}
