package dev.portcullis.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** FileSpool's outbound retry state: durable, replaced atomically, gone with its message. */
@Timeout(10)
class RetryStateTest {
    @TempDir Path dir;

    static final Address X = Address.of("x", "example.net");
    static final Address UTF8 = new Address("jos\u00e9", "b\u00fccher.example", "jos\u00e9@b\u00fccher.example");
    static final Address QUOTED = new Address("\"a b\"", "example.net", "\"a b\"@example.net");

    static String store(FileSpool spool, List<Address> rcpts) throws IOException {
        String id = QueueIds.next();
        spool.store(new Envelope(id, Address.of("alice", "example.test"), rcpts, Instant.now(), "192.0.2.1", "c.test", null, Map.of()),
                List.of(ByteBuffer.wrap("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII))));
        return id;
    }

    @Test void roundTripsAndSurvivesReopening() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = store(spool, List.of(X, UTF8, QUOTED));
        assertEquals(Map.of(), spool.retryState(id));
        Instant next = Instant.parse("2024-05-01T12:34:56.123456789Z");
        List<RetryState> states = List.of(
                new RetryState(X, 3, next, "4.4.1", "mx.example.net", "x-local; connect to mx.example.net[192.0.2.1]:25: refused", false),
                new RetryState(UTF8, 1, next, "4.2.2", null, "smtp; 452 4.2.2 \"full\" % \u00fcber", true),
                RetryState.fresh(QUOTED, next));
        spool.saveRetryState(id, states);
        FileSpool reopened = new FileSpool(dir);
        assertEquals(List.of(id), reopened.recover());
        Map<Address, RetryState> back = reopened.retryState(id);
        assertEquals(states, List.copyOf(back.values()));
        assertEquals(List.of(id), reopened.list(), "the state file is not a queue entry");
        try (Stream<Path> messages = Files.list(dir.resolve("messages"))) {
            assertEquals(List.of(id), messages.map(p -> p.getFileName().toString()).toList(), "messages/ holds messages only");
        }
    }

    @Test void saveReplacesTheWholeStateAndEmptyRemovesIt() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = store(spool, List.of(X, UTF8));
        Instant t = Instant.now();
        spool.saveRetryState(id, List.of(new RetryState(X, 1, t, "4.0.0", null, "a", false), new RetryState(UTF8, 1, t, "4.0.0", null, "b", false)));
        spool.saveRetryState(id, List.of(new RetryState(X, 2, t, "4.0.0", null, "c", true)));
        assertEquals(Map.of(X, new RetryState(X, 2, t, "4.0.0", null, "c", true)), spool.retryState(id));
        spool.saveRetryState(id, List.of());
        assertEquals(Map.of(), spool.retryState(id));
        assertFalse(Files.exists(dir.resolve("state").resolve(id)));
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count(), "no temporary file left behind");
        }
    }

    @Test void removeAndRecoverLeaveNoState() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = store(spool, List.of(X));
        spool.saveRetryState(id, List.of(RetryState.fresh(X, Instant.now())));
        spool.remove(id);
        assertFalse(Files.exists(dir.resolve("state").resolve(id)));
        assertThrows(NoSuchFileException.class, () -> spool.saveRetryState(id, List.of(RetryState.fresh(X, Instant.now()))));

        // A crash between removing a message and its state leaves an orphan, which recover() removes.
        String orphan = QueueIds.next();
        Files.writeString(dir.resolve("state").resolve(orphan), "portcullis-state 1\nid +" + orphan + "\n");
        Files.writeString(dir.resolve("tmp").resolve(orphan + ".123.state"), "half written");
        assertEquals(List.of(), new FileSpool(dir).recover());
        try (Stream<Path> s = Stream.concat(Files.list(dir.resolve("state")), Files.list(dir.resolve("tmp")))) {
            assertEquals(0, s.count());
        }
    }

    @Test void anUnreadableStateIsTreatedAsNone() throws IOException {
        FileSpool spool = new FileSpool(dir);
        String id = store(spool, List.of(X));
        for (String garbage : List.of("", "portcullis-state 2\n", "portcullis-state 1\nid +" + id + "\nrcpt +x\n",
                "portcullis-state 1\nid +OTHER\n", "portcullis-state 1\nid +" + id + "\nrcpt +x +example.net +x@example.net attempts 1 next +2024")) {
            Files.writeString(dir.resolve("state").resolve(id), garbage);
            assertEquals(Map.of(), spool.retryState(id), garbage);
        }
        assertEquals(List.of(id), spool.list());
    }

    @Test void aSpoolWithoutRetryStateSaysSo() {
        Spool minimal = new Spool() {
            @Override public void store(Envelope e, List<ByteBuffer> c) {}
            @Override public List<String> recover() { return List.of(); }
            @Override public Envelope envelope(String id) { return null; }
            @Override public java.io.InputStream content(String id) { return null; }
            @Override public void markDone(String id, Address r) {}
            @Override public java.util.Set<Address> done(String id) { return java.util.Set.of(); }
            @Override public void remove(String id) {}
            @Override public List<String> list() { return List.of(); }
            @Override public void hold(String id, String reason) {}
            @Override public void release(String id) {}
            @Override public String heldReason(String id) { return null; }
        };
        assertTrue(assertDoesNotThrowRetryState(minimal).isEmpty());
        assertThrows(UnsupportedOperationException.class, () -> minimal.saveRetryState("A", List.of()));
    }

    private static Map<Address, RetryState> assertDoesNotThrowRetryState(Spool s) {
        try {
            return s.retryState("A");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
