package dev.portcullis.pop3;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/*
 * One POP3 session's view of a Maildir: the snapshot taken at login and the changes made at QUIT.
 *
 * Invariants:
 * - The snapshot is taken once, at login (RFC 1939 section 8 leaves it to the server; a fixed list keeps the
 *   message numbers of one session stable): messages delivered later are not in it, and they are never
 *   touched by its UPDATE.
 * - Nothing on disk changes before UPDATE (RFC 1939 section 6): DELE and RETR only mark the snapshot, so a
 *   dropped connection, a timeout or a shutdown leaves the mailbox exactly as it was.
 * - UPDATE removes the messages marked deleted and moves the retrieved ones to cur/ with the S (seen) flag
 *   added to the flags they had, so mutt and Dovecot show them as read. Messages the client only saw in a
 *   listing (STAT, LIST, UIDL, TOP) stay where they are: unlike Dovecot, which moves everything it has seen
 *   to cur/, we leave them in new/, so that a phone polling with STAT/UIDL does not make unread mail look old
 *   to mutt's new-mail check.
 * - Another program (Dovecot, mutt) may rename a message meanwhile (flags, new/ -> cur/). Each message is
 *   found again by its unique part when its file has moved; one that has vanished is skipped.
 * - Sizes are the octets POP3 sends (CRLF endings, see WireFormat), computed from the file at login.
 */
final class Maildrop {
    private static final Logger LOG = Logger.getLogger("portcullis.pop3");

    /** One message of the snapshot. */
    static final class Message {
        final MaildirName name;
        final long size;
        Path path;
        boolean deleted;
        boolean retrieved;

        Message(MaildirName name, long size, Path path) {
            this.name = name;
            this.size = size;
            this.path = path;
        }

        String uidl() { return name.uidl(); }
    }

    /** What UPDATE did: counts for the log and the reply to QUIT. */
    record Update(int deleted, int seen, int failed, int left) {}

    private final Path root;
    private final List<Message> messages;

    private Maildrop(Path root, List<Message> messages) {
        this.root = root;
        this.messages = messages;
    }

    /**
     * The snapshot of the Maildir at {@code root}: new/ and cur/, in delivery order. A mailbox that does not
     * exist yet (no mail ever delivered) is empty.
     *
     * @throws NotDirectoryException when {@code root} exists but is not a folder (a permanent problem)
     * @throws IOException when the folder cannot be read
     */
    static Maildrop open(Path root) throws IOException {
        if (Files.exists(root) && !Files.isDirectory(root)) throw new NotDirectoryException(root.toString());
        Map<String, Message> byUnique = new LinkedHashMap<>();
        // new/ first: a message renamed into cur/ between the two listings is then seen twice (and kept once),
        // never missed
        for (String sub : List.of("new", "cur")) {
            Path dir = root.resolve(sub);
            if (!Files.isDirectory(dir)) continue;
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path f : files) {
                    String fileName = f.getFileName().toString();
                    if (fileName.startsWith(".") || !Files.isRegularFile(f)) continue;
                    MaildirName name = MaildirName.parse(fileName);
                    long size;
                    try (InputStream in = Files.newInputStream(f)) {
                        size = WireFormat.size(in);
                    } catch (NoSuchFileException moved) {
                        continue; // renamed or removed meanwhile; if renamed into cur/, the next listing has it
                    }
                    byUnique.put(name.unique(), new Message(name, size, f));
                }
            }
        }
        List<Message> list = new ArrayList<>(byUnique.values());
        list.sort(Comparator.comparing(m -> m.name, MaildirName::compareByDelivery));
        return new Maildrop(root, list);
    }

    /** Messages in the snapshot, deleted ones included (message numbers never change within a session). */
    int size() { return messages.size(); }

    /** Message number {@code n} (1-based), or null when there is no such number. */
    Message get(long n) {
        return n >= 1 && n <= messages.size() ? messages.get((int) (n - 1)) : null;
    }

    List<Message> messages() { return messages; }

    int visibleCount() {
        return (int) messages.stream().filter(m -> !m.deleted).count();
    }

    long visibleOctets() {
        return messages.stream().filter(m -> !m.deleted).mapToLong(m -> m.size).sum();
    }

    /** RSET: nothing is deleted any more (RFC 1939 section 5). What was retrieved stays retrieved. */
    void undeleteAll() {
        for (Message m : messages) m.deleted = false;
    }

    /**
     * Opens the message's file, following it if another program renamed it.
     *
     * @throws NoSuchFileException when it is gone from the Maildir
     */
    InputStream open(Message m) throws IOException {
        try {
            return Files.newInputStream(m.path);
        } catch (NoSuchFileException moved) {
            Path now = locate(m);
            if (now == null) throw moved;
            m.path = now;
            return Files.newInputStream(now);
        }
    }

    /**
     * The UPDATE state (RFC 1939 section 6), entered on QUIT only. Goes on past a failing message, so one bad
     * file does not keep the others from being removed; the count of failures decides the reply.
     */
    Update update() {
        int deleted = 0, seen = 0, failed = 0, left = 0;
        boolean touchedNew = false, touchedCur = false;
        for (Message m : messages) {
            if (!m.deleted && !m.retrieved) {
                left++;
                continue;
            }
            try {
                Path current = Files.exists(m.path) ? m.path : locate(m);
                if (m.deleted) {
                    if (current != null) {
                        Files.deleteIfExists(current);
                        if (current.getParent().getFileName().toString().equals("new")) touchedNew = true;
                        else touchedCur = true;
                    }
                    deleted++; // gone already (another client deleted it): what the user asked for
                    continue;
                }
                left++;
                if (current == null) continue; // deleted by someone else meanwhile: nothing to flag
                MaildirName name = MaildirName.parse(current.getFileName().toString());
                boolean inNew = current.getParent().getFileName().toString().equals("new");
                if (!inNew && name.hasFlag('S')) continue;
                Path target = root.resolve("cur").resolve(name.withFlag('S'));
                Files.createDirectories(target.getParent());
                Files.move(current, target, StandardCopyOption.ATOMIC_MOVE);
                touchedCur = true;
                if (inNew) touchedNew = true;
                seen++;
            } catch (IOException | RuntimeException e) {
                failed++;
                LOG.warning(() -> "pop3 update of " + m.path + " failed: " + e);
            }
        }
        // rename(2) and unlink(2) are durable only once the folder is synced
        if (touchedNew) sync(root.resolve("new"));
        if (touchedCur) sync(root.resolve("cur"));
        return new Update(deleted, seen, failed, left);
    }

    /** Where the message is now: new/ under its unique name, or cur/ under its unique name plus any flags. */
    private Path locate(Message m) throws IOException {
        String unique = m.name.unique();
        Path inNew = root.resolve("new").resolve(unique);
        if (Files.isRegularFile(inNew)) return inNew;
        Path cur = root.resolve("cur");
        if (!Files.isDirectory(cur)) return null;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(cur)) {
            for (Path f : files) {
                String n = f.getFileName().toString();
                if (n.equals(unique) || MaildirName.parse(n).unique().equals(unique)) return f;
            }
        }
        return null;
    }

    private static void sync(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            LOG.warning(() -> "pop3 could not sync " + dir + ": " + e);
        }
    }
}
