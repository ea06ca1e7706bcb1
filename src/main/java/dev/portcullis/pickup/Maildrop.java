package dev.portcullis.pickup;

import dev.portcullis.hook.Address;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/*
 * The maildrop: where local programs leave mail for the server (Postfix's postdrop/pickup model).
 *
 *   <data_dir>/maildrop/tmp/<name>      being written by `portcullis sendmail`          mode 1733
 *   <data_dir>/maildrop/new/<name>      complete, waiting for the server                mode 1733
 *   <data_dir>/maildrop/active/<name>   claimed by the server, being queued             mode 0700
 *   <data_dir>/maildrop/corrupt/<name>  unreadable or unsafe files, kept for a human    mode 0700
 *   <data_dir>/maildrop/held/<name>     refused (admit predicate, size), kept for a human  mode 0700
 *
 * 1733 = world-writable, sticky, not listable: every local user can create files, nobody can list the
 * folder or remove another user's file, and the file's owner (which only root can forge) tells the server
 * who submitted the message. The name is unguessable (time, pid, 64 random bits).
 *
 * File format, version 1: LF-terminated ASCII lines, an empty line, then the message (CRLF line ends).
 *
 *   portcullis-maildrop 1        any other first line is refused, never guessed at
 *   sender <alice@example.org>   exactly one; "<>" is the null sender
 *   rcpt <bob@example.org>       one or more, in order
 *   identity alice               who the writer says it is: for information only; the server uses the owner
 *   flags ti                     the sendmail flags used, for information only (may be empty: "flags -")
 *   (empty line)
 *   message
 *
 * Values are UTF-8 with every byte outside 0x21..0x7E, and '%', written as %XX, so no value can contain
 * the space, CR or LF the format splits on.
 *
 * Durability (DESIGN: never a 0 exit for mail that a crash can lose): the file is written to tmp/, forced,
 * renamed into new/ and new/ is fsynced. An ordinary user cannot open new/ (no read permission) to fsync
 * it; then the file itself is fsynced again after the rename, which on journalling file systems (ext4,
 * XFS) commits the rename with it — POSIX does not promise that, see docs/sendmail.md.
 */
public final class Maildrop {

    public static final String FOLDER = "maildrop";
    static final String MAGIC = "portcullis-maildrop";
    static final int VERSION = 1;
    static final String TMP = "tmp", NEW = "new", ACTIVE = "active", CORRUPT = "corrupt", HELD = "held";
    /** world-writable, sticky, not listable */
    static final int DROP_MODE = 01733;
    static final int PRIVATE_MODE = 0700;

    /** A corrupt file must not make us scan megabytes looking for the end of the header. */
    static final int MAX_HEADER = 1 << 20;

    private static final SecureRandom RANDOM = new SecureRandom();

    /** What a maildrop file says. {@code message} has CRLF line ends. */
    public record Entry(Address sender, List<Address> recipients, String identity, String flags, byte[] message) {
        public Entry {
            recipients = List.copyOf(recipients);
        }
    }

    private final Path dir;

    /** @param dir the maildrop folder, {@link #folder(Path) data_dir/maildrop} */
    public Maildrop(Path dir) {
        this.dir = dir;
    }

    public static Path folder(Path dataDir) {
        return dataDir.resolve(FOLDER);
    }

    public Path dir() { return dir; }

    /**
     * Writes the entry durably into new/ and returns its path there. When this returns, the message survives
     * a crash (see the class comment for the one caveat); when it throws, nothing was dropped.
     */
    public Path write(Entry entry) throws IOException {
        byte[] header = header(entry);
        createDropFolders();
        Path tmp = dir.resolve(TMP), fresh = dir.resolve(NEW);
        for (int attempt = 0; ; attempt++) {
            String name = uniqueName();
            Path temp = tmp.resolve(name);
            FileChannel channel;
            try {
                channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt < 3) continue;   // 64 random bits make this all but impossible
                throw e;
            }
            boolean renamed = false;
            Path target = fresh.resolve(name);
            try {
                try (FileChannel ch = channel) {
                    // Readable by the server even when it does not run as root; the name is the secret.
                    setMode(temp, "rw-r--r--");
                    writeFully(ch, ByteBuffer.wrap(header));
                    writeFully(ch, ByteBuffer.wrap(entry.message()));
                    ch.force(true);
                }
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                renamed = true;
                syncNewName(fresh, target);
                return target;
            } catch (IOException | RuntimeException e) {
                // Not renamed: remove our half-written file. Renamed: the message is complete in new/ and
                // only its durability is in doubt; the server may already have it. Leaving it is a
                // possible duplicate (the caller reports failure and the user may send again), never a loss.
                if (!renamed) {
                    try {
                        Files.deleteIfExists(temp);
                    } catch (IOException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
        }
    }

    /**
     * Creates maildrop/, tmp/ and new/ when missing (tmp/ and new/ with mode 1733), but never the data
     * folder itself: a missing data folder means a wrong configuration, not a first run.
     */
    void createDropFolders() throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            if (Files.exists(dir)) throw new NotDirectoryException(dir.toString());
            if (parent != null && !Files.isDirectory(parent))
                throw new NoSuchFileException(parent.toString(), null, "the data folder does not exist");
            try {
                Files.createDirectory(dir);
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // another sendmail created it at the same moment
            }
        }
        for (String sub : List.of(TMP, NEW)) {
            Path p = dir.resolve(sub);
            if (Files.isDirectory(p)) continue;
            if (Files.exists(p)) throw new NotDirectoryException(p.toString());
            try {
                Files.createDirectory(p);
                setUnixMode(p, DROP_MODE);
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // another sendmail created it at the same moment
            }
        }
    }

    // ---- the format -------------------------------------------------------------------------------

    static byte[] header(Entry e) throws CharacterCodingException {
        if (e.recipients().isEmpty()) throw new IllegalArgumentException("no recipients");
        StringBuilder sb = new StringBuilder(256);
        sb.append(MAGIC).append(' ').append(VERSION).append('\n');
        sb.append("sender ").append(encode(e.sender().path())).append('\n');
        for (Address r : e.recipients()) sb.append("rcpt ").append(encode(r.path())).append('\n');
        sb.append("identity ").append(encode(e.identity() == null || e.identity().isEmpty() ? "-" : e.identity())).append('\n');
        sb.append("flags ").append(encode(e.flags() == null || e.flags().isEmpty() ? "-" : e.flags())).append('\n');
        sb.append('\n');
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** The whole file, validated. Throws for anything that is not a well-formed version 1 maildrop file. */
    static Entry parse(byte[] file) throws IOException {
        int end = -1;
        for (int i = 0; i < Math.min(file.length, MAX_HEADER); i++) {
            byte b = file[i];
            if (b == '\n' && i > 0 && file[i - 1] == '\n') { end = i; break; }
            if (b < 0 || b == '\r' || b == 0) throw corrupt("header is not LF-terminated ASCII");
        }
        if (end < 0) throw corrupt(file.length >= MAX_HEADER ? "header too long" : "no end of header");
        String[] lines = new String(file, 0, end - 1, StandardCharsets.US_ASCII).split("\n", -1);
        if (!lines[0].equals(MAGIC + " " + VERSION))
            throw corrupt("not a version " + VERSION + " maildrop file: " + abbreviate(lines[0]));
        Address sender = null;
        String identity = null, flags = null;
        List<Address> rcpts = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(" ", -1);
            if (f.length != 2 || f[1].isEmpty()) throw corrupt("bad line " + abbreviate(lines[i]));
            String value = decode(f[1]);
            switch (f[0]) {
                case "sender" -> {
                    if (sender != null) throw corrupt("two sender lines");
                    sender = path(value, true);
                }
                case "rcpt" -> rcpts.add(path(value, false));
                case "identity" -> {
                    if (identity != null) throw corrupt("two identity lines");
                    identity = value;
                }
                case "flags" -> {
                    if (flags != null) throw corrupt("two flags lines");
                    flags = value;
                }
                default -> throw corrupt("unknown line " + abbreviate(f[0]));
            }
        }
        if (sender == null) throw corrupt("no sender line");
        if (rcpts.isEmpty()) throw corrupt("no rcpt line");
        byte[] message = java.util.Arrays.copyOfRange(file, end + 1, file.length);
        for (byte b : message) if (b == 0) throw corrupt("NUL byte in the message");
        return new Entry(sender, rcpts, "-".equals(identity) ? null : identity, "-".equals(flags) ? "" : flags, message);
    }

    private static Address path(String value, boolean sender) throws IOException {
        if (!value.startsWith("<") || !value.endsWith(">") || value.length() < 2) throw corrupt("bad address " + abbreviate(value));
        try {
            Address a = AddressList.parseMailbox(value, null);
            if (a.isNull() && !sender) throw corrupt("empty recipient");
            return a;
        } catch (AddressList.SyntaxException e) {
            throw corrupt("bad address: " + e.getMessage());
        }
    }

    static String encode(String s) throws CharacterCodingException {
        ByteBuffer utf8 = StandardCharsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .encode(CharBuffer.wrap(s));
        StringBuilder sb = new StringBuilder(utf8.remaining());
        while (utf8.hasRemaining()) {
            int b = utf8.get() & 0xff;
            if (b > 0x20 && b < 0x7f && b != '%') sb.append((char) b);
            else sb.append('%').append(Character.toUpperCase(Character.forDigit(b >> 4, 16)))
                    .append(Character.toUpperCase(Character.forDigit(b & 15, 16)));
        }
        return sb.toString();
    }

    static String decode(String t) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(t.length());
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c == '%') {
                int hi = i + 2 < t.length() ? Character.digit(t.charAt(i + 1), 16) : -1;
                int lo = i + 2 < t.length() ? Character.digit(t.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) throw corrupt("bad %-escape in " + abbreviate(t));
                bytes.write(hi << 4 | lo);
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw corrupt("invalid UTF-8 in " + abbreviate(t));
        }
    }

    /**
     * CRLF line ends: every LF becomes CRLF, every CR is dropped (a CR before an LF is part of the line end
     * it becomes; a bare CR, forbidden by RFC 5322 2.3, is mostly a terminal's progress-bar redraw), and a
     * last line without an end gets one. Idempotent: CRLF text comes back unchanged.
     */
    static byte[] crlf(byte[] in) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length + in.length / 32 + 2);
        for (byte b : in) {
            if (b == '\r') continue;
            if (b == '\n') out.write('\r');
            out.write(b);
        }
        byte[] bytes = out.toByteArray();
        if (bytes.length > 0 && bytes[bytes.length - 1] != '\n') {
            out.write('\r');
            out.write('\n');
            bytes = out.toByteArray();
        }
        return bytes;
    }

    // ---- files ------------------------------------------------------------------------------------

    /** Time, pid, 64 random bits: unique among writers and unguessable by other users. */
    static String uniqueName() {
        byte[] random = new byte[8];
        RANDOM.nextBytes(random);
        return System.currentTimeMillis() + "." + ProcessHandle.current().pid() + "." + HexFormat.of().formatHex(random);
    }

    /** Makes the new name durable: fsync the folder, or when we may not open it, the file (see above). */
    private static void syncNewName(Path folder, Path file) throws IOException {
        try {
            syncDirectory(folder);
        } catch (AccessDeniedException notListable) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (NoSuchFileException pickedUp) {
                // the server has already moved it (and syncs its own folders)
            }
        }
    }

    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Sets the full Unix mode (with the sticky bit, which PosixFilePermission cannot express). */
    static boolean setUnixMode(Path p, int mode) throws IOException {
        try {
            Files.setAttribute(p, "unix:mode", mode, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            return true;
        } catch (UnsupportedOperationException | IllegalArgumentException noUnixView) {
            return false;   // not a Unix file system: modes do not apply
        }
    }

    private static void setMode(Path p, String perms) throws IOException {
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
        } catch (UnsupportedOperationException notPosix) {
            // nothing to set
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static IOException corrupt(String why) {
        return new IOException("corrupt maildrop file: " + why);
    }

    static String abbreviate(String s) {
        String clean = s.replaceAll("[^\\x21-\\x7e]", "?");
        return clean.length() <= 60 ? clean : clean.substring(0, 60) + "...";
    }
}
