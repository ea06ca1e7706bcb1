package dev.portcullis.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class MaildirTest {

    @TempDir Path dir;

    private static ByteArrayInputStream crlf(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }

    private static List<Path> files(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.toList();
        }
    }

    @Test
    void messageLandsInNewWithLfLinesAndEnvelopeHeaders() throws IOException {
        Maildir maildir = new Maildir(dir.resolve("alice"), "mx.example.test");
        Path file = maildir.deliver(Address.of("sender", "remote.test"), Address.of("alice", "example.test"),
                crlf("Subject: hi\r\n\r\nline one\r\nbare\rcr\r\nlast\r\n"));

        assertEquals(dir.resolve("alice").resolve("new"), file.getParent());
        assertEquals(List.of(file), files(dir.resolve("alice/new")));
        assertEquals(List.of(), files(dir.resolve("alice/tmp")));
        assertTrue(Files.isDirectory(dir.resolve("alice/cur")));
        assertEquals("Return-Path: <sender@remote.test>\nDelivered-To: alice@example.test\n"
                        + "Subject: hi\n\nline one\nbare\rcr\nlast\n",
                Files.readString(file));
    }

    @Test
    void nullSenderIsAnEmptyReturnPath() throws IOException {
        Path file = new Maildir(dir.resolve("bob"), "mx").deliver(Address.NULL_SENDER, Address.of("bob", "example.test"),
                crlf("\r\n"));
        assertTrue(Files.readString(file).startsWith("Return-Path: <>\nDelivered-To: bob@example.test\n"));
    }

    @Test
    void aCrLfSplitAcrossReadsIsStillOneLf() throws IOException {
        byte[] big = new byte[64 * 1024 + 1];
        java.util.Arrays.fill(big, (byte) 'a');
        big[64 * 1024 - 1] = '\r';
        big[64 * 1024] = '\n';
        Path file = new Maildir(dir.resolve("c"), "mx").deliver(Address.NULL_SENDER, Address.of("c", "example.test"),
                new ByteArrayInputStream(big));
        byte[] stored = Files.readAllBytes(file);
        String headers = "Return-Path: <>\nDelivered-To: c@example.test\n";
        assertEquals(headers.length() + big.length - 1, stored.length);
        assertEquals('\n', stored[stored.length - 1]);
        assertFalse(new String(stored, StandardCharsets.ISO_8859_1).contains("\r"));
    }

    @Test
    void namesAreUniqueAndSafeForAThousandRapidDeliveries() throws IOException {
        Maildir maildir = new Maildir(dir.resolve("alice"), "odd/host:name");
        Set<String> names = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            Path file = maildir.deliver(Address.NULL_SENDER, Address.of("alice", "example.test"), crlf("m" + i + "\r\n"));
            String name = file.getFileName().toString();
            assertFalse(name.contains("/") || name.contains(":"), name);
            assertTrue(name.endsWith(".odd\\057host\\072name"), name);
            assertTrue(name.matches("\\d+\\.M\\d+P\\d+Q\\d+\\..+"), name);
            names.add(name);
        }
        assertEquals(1000, names.size());
        assertEquals(1000, files(dir.resolve("alice/new")).size());
        assertEquals(0, files(dir.resolve("alice/tmp")).size());
    }

    @Test
    void foldersArePrivate() throws IOException {
        if (!FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) return;
        Path file = new Maildir(dir.resolve("alice"), "mx").deliver(Address.NULL_SENDER, Address.of("alice", "example.test"),
                crlf("x\r\n"));
        for (String sub : List.of("", "tmp", "new", "cur"))
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("alice").resolve(sub))), sub);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void aMailboxRemovedAfterADeliveryIsMadeAgainByTheNext() throws IOException {
        Path root = dir.resolve("bob");
        Maildir maildir = new Maildir(root, "mx.example.test");
        maildir.deliver(Address.of("sender", "remote.test"), Address.of("bob", "example.test"), crlf("Subject: 1\r\n\r\none\r\n"));
        try (var all = Files.walk(root)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
        Path second = new Maildir(root, "mx.example.test").deliver(Address.of("sender", "remote.test"),
                Address.of("bob", "example.test"), crlf("Subject: 2\r\n\r\ntwo\r\n"));
        assertEquals(List.of(second), files(root.resolve("new")));
        assertTrue(Files.isDirectory(root.resolve("cur")) && Files.isDirectory(root.resolve("tmp")));
    }
}
