package dev.portcullis.queue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(10)
class FileSpoolTest {

    @TempDir Path dir;

    private static final Address QUOTED = new Address("\"john @ doe\"", "Example.TEST", "\"john @ doe\"@Example.TEST");
    private static final Address UTF8 = new Address("josé.müller", "bücher.example", "josé.müller@bücher.example");
    private static final Address PERCENT = new Address("a%b+c", "example.test", "@relay.test:a%b+c@example.test");

    private static Envelope envelope(String id, Address sender, List<Address> rcpts) {
        return new Envelope(id, sender, rcpts, Instant.parse("2024-05-01T12:34:56.123456789Z"), "2001:db8::1",
                "mail.client.test", null, Map.of("SIZE", "1234", "BODY", "8BITMIME", "SMTPUTF8", ""));
    }

    private static List<ByteBuffer> content(String... parts) {
        List<ByteBuffer> list = new ArrayList<>();
        for (String p : parts) list.add(ByteBuffer.wrap(p.getBytes(StandardCharsets.UTF_8)));
        return list;
    }

    private static String read(InputStream in) throws IOException {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void envelopeAndContentRoundTripTrickyAddresses() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        Envelope e = envelope(id, Address.NULL_SENDER,
                List.of(QUOTED, UTF8, PERCENT, Address.of("bob", "example.test"), new Address("", "", "")));
        List<ByteBuffer> parts = content("Received: from x\r\n", "Subject: h\u00e9\r\n\r\nbody\r\n.\r\n");
        spool.store(e, parts);

        Envelope back = spool.envelope(id);
        assertEquals(e, back);
        assertTrue(back.sender().isNull());
        assertEquals(null, back.authUser());
        assertEquals("", back.mailParameters().get("SMTPUTF8"));
        assertEquals("Received: from x\r\nSubject: h\u00e9\r\n\r\nbody\r\n.\r\n", read(spool.content(id)));
        assertEquals(0, parts.get(0).position(), "the caller's buffers are left as they were");
    }

    @Test
    void everyNullableFieldRoundTrips() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        Envelope e = new Envelope(id, QUOTED, List.of(UTF8), Instant.EPOCH, null, null, "us er@x", Map.of());
        spool.store(e, content(""));
        assertEquals(e, spool.envelope(id));
        assertEquals("", read(spool.content(id)));
    }

    @Test
    void contentThatLooksLikeAHeaderIsVerbatim() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        byte[] bytes = new byte[256 * 1024];
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) (i * 31);
        bytes[0] = '\n';
        bytes[1] = '\n';
        spool.store(envelope(id, QUOTED, List.of(UTF8)), List.of(ByteBuffer.wrap(bytes)));
        try (InputStream in = spool.content(id)) {
            assertArrayEquals(bytes, in.readAllBytes());
        }
    }

    @Test
    void storedMessageIsRecoveredByANewSpool() throws IOException {
        String id = QueueIds.next();
        new FileSpool(dir).store(envelope(id, QUOTED, List.of(UTF8)), content("x\r\n"));

        FileSpool reopened = new FileSpool(dir);
        assertEquals(List.of(id), reopened.recover());
        assertEquals(envelope(id, QUOTED, List.of(UTF8)), reopened.envelope(id));
        assertEquals("x\r\n", read(reopened.content(id)));
    }

    @Test
    void recoverRemovesHalfWrittenFilesAndOrphanDoneFiles() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        spool.store(envelope(id, QUOTED, List.of(UTF8)), content("x"));
        String lost = QueueIds.next();
        Files.writeString(dir.resolve("tmp").resolve(lost), "portcullis-queue 1\nid +" + lost);
        Files.writeString(dir.resolve("messages").resolve(QueueIds.next() + ".done"), "+a +b +a@b\n");

        FileSpool reopened = new FileSpool(dir);
        assertEquals(List.of(id), reopened.recover());
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count());
        }
        try (Stream<Path> messages = Files.list(dir.resolve("messages"))) {
            assertEquals(List.of(id), messages.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void markDoneSurvivesReopening() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        spool.store(envelope(id, Address.NULL_SENDER, List.of(QUOTED, UTF8, PERCENT)), content("x"));
        assertEquals(Set.of(), spool.done(id));

        spool.markDone(id, QUOTED);
        spool.markDone(id, UTF8);
        assertEquals(Set.of(QUOTED, UTF8), spool.done(id));

        FileSpool reopened = new FileSpool(dir);
        assertEquals(List.of(id), reopened.recover());
        assertEquals(Set.of(QUOTED, UTF8), reopened.done(id));
    }

    @Test
    void doneIgnoresATruncatedLastLine() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        spool.store(envelope(id, QUOTED, List.of(QUOTED, UTF8)), content("x"));
        spool.markDone(id, QUOTED);
        // A crash in the middle of the second append: no line end.
        Files.writeString(dir.resolve("messages").resolve(id + ".done"), "+jos%C3%A9.m", StandardOpenOption.APPEND);
        assertEquals(Set.of(QUOTED), spool.done(id));
        // Even a torn line that happens to be a whole address is not trusted without its LF.
        Files.writeString(dir.resolve("messages").resolve(id + ".done"), "\n+bob +example.test +bob@example.test",
                StandardOpenOption.APPEND);
        assertEquals(Set.of(QUOTED), spool.done(id));
    }

    @Test
    void removeDeletesEverything() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        spool.store(envelope(id, QUOTED, List.of(UTF8)), content("x"));
        spool.markDone(id, UTF8);
        spool.remove(id);

        assertEquals(List.of(), spool.list());
        try (Stream<Path> all = Stream.concat(Files.list(dir.resolve("messages")), Files.list(dir.resolve("tmp")))) {
            assertEquals(0, all.count());
        }
        assertThrows(IOException.class, () -> spool.envelope(id));
        assertEquals(Set.of(), spool.done(id));
    }

    @Test
    void listIsInStoreOrder() throws IOException {
        FileSpool spool = new FileSpool(dir);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            String id = QueueIds.next();
            ids.add(id);
            spool.store(envelope(id, QUOTED, List.of(UTF8)), content("m" + i));
            if (i % 7 == 0) spool.markDone(id, UTF8);   // .done files must not show up as ids
        }
        assertEquals(ids, spool.list());
        assertEquals(ids, new FileSpool(dir).recover());
    }

    @Test
    void invalidQueueIdsAreRefused() throws IOException {
        FileSpool spool = new FileSpool(dir);
        for (String bad : List.of("", "../x", "a/b", "A.done", "x y", "..", "é1")) {
            assertThrows(IllegalArgumentException.class,
                    () -> spool.store(envelope(bad, QUOTED, List.of(UTF8)), content("x")), bad);
            assertThrows(IllegalArgumentException.class, () -> spool.envelope(bad), bad);
            assertThrows(IllegalArgumentException.class, () -> spool.markDone(bad, UTF8), bad);
            assertThrows(IllegalArgumentException.class, () -> spool.remove(bad), bad);
        }
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count());
        }
    }

    @Test
    void aQueuedMessageIsNeverOverwritten() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        spool.store(envelope(id, QUOTED, List.of(UTF8)), content("first"));
        assertThrows(FileAlreadyExistsException.class,
                () -> spool.store(envelope(id, QUOTED, List.of(UTF8)), content("second")));
        assertEquals("first", read(spool.content(id)));
    }

    @Test
    void markDoneOfAnUnknownMessageFails() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        assertThrows(IOException.class, () -> spool.markDone(id, UTF8));
        assertFalse(Files.exists(dir.resolve("messages").resolve(id + ".done")));
    }

    @Test
    void aCorruptHeaderIsAnIOExceptionNotAGuess() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        Files.writeString(dir.resolve("messages").resolve(id), "portcullis-queue 2\nid +" + id + "\n\nbody");
        assertThrows(IOException.class, () -> spool.envelope(id));
        String other = QueueIds.next();
        Files.writeString(dir.resolve("messages").resolve(other), "portcullis-queue 1\nid +" + id + "\n");
        assertThrows(IOException.class, () -> spool.envelope(other));
    }

    @Test
    void parametersAndManyRecipientsRoundTrip() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = QueueIds.next();
        List<Address> rcpts = new ArrayList<>();
        for (int i = 0; i < 500; i++) rcpts.add(Address.of("user" + i, "example.test"));
        Map<String, String> params = new HashMap<>();
        params.put("ENVID", "a b%c+d=e");
        params.put("RET", "HDRS");
        Envelope e = new Envelope(id, UTF8, rcpts, Instant.now(), "192.0.2.1", "[192.0.2.1]", "alice", params);
        spool.store(e, content("x"));
        assertEquals(e, spool.envelope(id));
    }
}
