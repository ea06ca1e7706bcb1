package dev.portcullis.queue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/*
 * Group commit: queue files are not forced on their own, the journal is. These tests play the crash by
 * hand: they stop a spool without any retirement, then damage its queue files the way a crash can (a
 * file lost, cut short, an unlink undone) and check that recover() puts back exactly what was
 * acknowledged and nothing that was removed.
 */
@Timeout(30)
class GroupCommitTest {

    @TempDir Path dir;
    private final List<FileSpool> open = new ArrayList<>();

    @AfterEach void closeAll() {
        open.forEach(FileSpool::close);
    }

    private FileSpool serverSpool(GroupCommitter.Segments segments) throws IOException {
        FileSpool spool = new FileSpool(dir);
        spool.recover();
        spool.startGroupCommit(segments);
        open.add(spool);
        return spool;
    }

    private FileSpool serverSpool() throws IOException {
        // no test here fills 4 MB, and nothing retires: every record stays in the journal for the crash
        return serverSpool(new GroupCommitter.Segments(4L << 20, Duration.ofDays(1), Duration.ofDays(1)));
    }

    private static Envelope envelope(String id) {
        return new Envelope(id, Address.of("sender", "example.test"), List.of(Address.of("rcpt", "example.test")),
                Instant.parse("2026-11-22T12:00:00Z"), "192.0.2.1", "client.test", null, Map.of());
    }

    private static String store(Spool spool, String body) throws IOException {
        String id = QueueIds.next();
        spool.store(envelope(id), List.of(ByteBuffer.wrap(("Subject: t\r\n\r\n" + body + "\r\n").getBytes(StandardCharsets.US_ASCII))));
        return id;
    }

    private static String content(Spool spool, String id) throws IOException {
        try (InputStream in = spool.content(id)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    private Path queueFile(String id) { return dir.resolve("messages").resolve(id); }

    private long segments() throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("journal"))) {
            return s.filter(p -> p.getFileName().toString().endsWith(".log")).count();   // not the spare
        }
    }

    @Test
    void aQueueFileLostInACrashIsWrittenAgainFromTheJournal() throws IOException {
        FileSpool server = serverSpool();
        String lost = store(server, "lost");
        String cut = store(server, "cut short");
        String kept = store(server, "kept");
        server.close();   // gives the messages kept in memory their queue files
        byte[] keptBytes = Files.readAllBytes(queueFile(kept));
        // what a crash can do to files that were renamed but never forced
        Files.delete(queueFile(lost));
        try (FileChannel ch = FileChannel.open(queueFile(cut), StandardOpenOption.WRITE)) {
            ch.truncate(10);
        }

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(lost, cut, kept), restarted.recover());
        assertEquals("Subject: t\r\n\r\nlost\r\n", content(restarted, lost));
        assertEquals("Subject: t\r\n\r\ncut short\r\n", content(restarted, cut));
        assertEquals(envelope(cut), restarted.envelope(cut));
        assertArrayEquals(keptBytes, Files.readAllBytes(queueFile(kept)));
        assertEquals(0, segments(), "recovery empties the journal once the messages are durable on their own");
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count());
        }
    }

    @Test
    void aRemovedMessageStaysRemovedEvenWhenItsUnlinkIsLost() throws IOException {
        FileSpool server = serverSpool();
        String delivered = store(server, "delivered");
        String waiting = store(server, "waiting");
        server.markDone(delivered, Address.of("rcpt", "example.test"));   // gives it a queue file
        byte[] before = Files.readAllBytes(queueFile(delivered));
        server.remove(delivered);
        server.close();   // forces the D record
        Files.write(queueFile(delivered), before);   // the crash undid the unlink

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(waiting), restarted.recover());
        assertFalse(Files.exists(queueFile(delivered)));
    }

    @Test
    void aRemovalByAnotherProcessIsNotUndoneByTheServersRecovery() throws IOException {
        FileSpool server = serverSpool();
        String deleted = store(server, "deleted by the admin");
        String other = store(server, "other");
        new FileSpool(dir).remove(deleted);   // `portcullis queue delete` while the server runs
        server.close();

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(other), restarted.recover());
    }

    @Test
    void aMessageRemovedSoonAfterItsStoreNeverHasAQueueFile() throws IOException {
        FileSpool server = serverSpool();
        String id = store(server, "delivered at once");

        assertEquals(List.of(id), server.list());
        assertEquals(envelope(id), server.envelope(id));
        assertEquals("Subject: t\r\n\r\ndelivered at once\r\n", content(server, id));
        assertEquals(Set.of(), server.done(id));
        assertNull(server.heldReason(id));
        assertFalse(Files.exists(queueFile(id)), "kept in memory: the journal is its durable copy");
        server.remove(id);
        server.close();

        assertEquals(List.of(), server.list());
        assertFalse(Files.exists(queueFile(id)));
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count(), "nothing was written beside the journal");
        }
        assertEquals(List.of(), new FileSpool(dir).recover(), "its D record keeps recovery from bringing it back");
    }

    @Test
    void aMessageKeptInMemoryIsRecoveredFromTheJournalAfterACrash() throws IOException {
        FileSpool server = serverSpool();
        String id = store(server, "acknowledged, then the power went");
        server.groupCommit().close();   // the crash: the writer stops, memory is lost, no file was written
        assertFalse(Files.exists(queueFile(id)));

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(id), restarted.recover());
        assertEquals("Subject: t\r\n\r\nacknowledged, then the power went\r\n", content(restarted, id));
        assertEquals(envelope(id), restarted.envelope(id));
    }

    @Test
    void aMessageIsGivenItsQueueFileBeforeARecordIsWrittenBesideIt() throws IOException {
        FileSpool server = serverSpool();
        Address rcpt = Address.of("rcpt", "example.test");
        String done = store(server, "done");
        String held = store(server, "held");
        String retried = store(server, "retried");
        server.markDone(done, rcpt);
        server.hold(held, "checked by hand");
        server.saveRetryState(retried, List.of(new RetryState(rcpt, 1, Instant.parse("2026-11-22T12:05:00Z"),
                "4.4.1", "mx.remote.test", "451 4.4.1 later", false)));

        for (String id : List.of(done, held, retried)) assertTrue(Files.exists(queueFile(id)), id);
        assertEquals(Set.of(rcpt), server.done(done));
        assertEquals("checked by hand", server.heldReason(held));
        assertEquals(Set.of(rcpt), server.retryState(retried).keySet());
        assertEquals("Subject: t\r\n\r\nheld\r\n", content(server, held));
        assertEquals(List.of(done, held, retried), server.list(), "each once, filed or not");
        server.remove(done);
        assertFalse(Files.exists(queueFile(done)));
    }

    @Test
    void aMessageWaitingLongerThanAMomentIsGivenItsQueueFileForTheQueueTools() throws Exception {
        FileSpool server = serverSpool();
        String id = store(server, "waiting for a remote server");
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!Files.exists(queueFile(id))) {
            assertTrue(System.nanoTime() < deadline, "not filed after " + UnfiledMessages.FILE_AFTER);
            Thread.sleep(50);
        }
        assertEquals(List.of(id), new FileSpool(dir).list(), "another process (portcullis queue) sees it");
        assertEquals("Subject: t\r\n\r\nwaiting for a remote server\r\n", content(server, id));
    }

    @Test
    void pastTheMemoryLimitAMessageIsWrittenToItsFileAtOnce() throws IOException {
        FileSpool server = new FileSpool(dir);
        server.recover();
        server.startGroupCommit(new GroupCommitter.Segments(4L << 20, Duration.ofDays(1), Duration.ofDays(1)), 1000);
        open.add(server);
        String small = store(server, "fits");
        String big = store(server, "x".repeat(2000));

        assertFalse(Files.exists(queueFile(small)));
        assertTrue(Files.exists(queueFile(big)));
        assertEquals(List.of(small, big), server.list());
        assertEquals("Subject: t\r\n\r\n" + "x".repeat(2000) + "\r\n", content(server, big));
    }

    @Test
    void aTornRecordAtTheEndOfTheJournalIsIgnoredAndWhatCameBeforeIsKept() throws IOException {
        FileSpool server = serverSpool();
        String first = store(server, "first");
        String second = store(server, "second");
        server.close();
        Path segment;
        try (Stream<Path> s = Files.list(dir.resolve("journal"))) {
            segment = s.filter(p -> p.getFileName().toString().endsWith(".log")).findFirst().orElseThrow();
        }
        // The crash hit while the second record was being written: in a preallocated segment its last
        // bytes are still the zeros they were.
        byte[] bytes = Files.readAllBytes(segment);
        int end = new String(bytes, StandardCharsets.ISO_8859_1).indexOf("second\r\n") + "second\r\n".length();
        assertEquals(0, bytes[end], "the segment is preallocated: zeros after the last record");
        java.util.Arrays.fill(bytes, end - 3, end, (byte) 0);
        Files.write(segment, bytes);
        Files.delete(queueFile(first));
        Files.delete(queueFile(second));

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(first), restarted.recover());
        assertEquals("Subject: t\r\n\r\nfirst\r\n", content(restarted, first));
    }

    @Test
    void aRecordWhoseChecksumFailsEndsTheSegment() throws IOException {
        FileSpool server = serverSpool();
        String first = store(server, "first");
        String second = store(server, "second");
        String third = store(server, "third");
        server.close();
        Path segment;
        try (Stream<Path> s = Files.list(dir.resolve("journal"))) {
            segment = s.filter(p -> p.getFileName().toString().endsWith(".log")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(segment);
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = text.indexOf("\r\nsecond\r\n");
        bytes[at + 2] = 'S';   // one flipped byte inside the second record's body
        Files.write(segment, bytes);
        for (String id : List.of(first, second, third)) Files.delete(queueFile(id));

        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(first), restarted.recover(), "nothing after a damaged record is trusted");
    }

    @Test
    void concurrentStoresShareOneFsyncPerBatchAndAllArriveIntact() throws Exception {
        FileSpool server = serverSpool();
        int threads = 40;
        int each = 25;
        List<Future<List<String>>> futures = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < threads; t++) {
                int n = t;
                futures.add(pool.submit(() -> {
                    List<String> ids = new ArrayList<>();
                    for (int i = 0; i < each; i++) ids.add(store(server, "t" + n + " m" + i));
                    return ids;
                }));
            }
        }
        List<String> all = new ArrayList<>();
        for (Future<List<String>> f : futures) all.addAll(f.get());
        GroupCommitter group = server.groupCommit();
        assertEquals(threads * each, group.stored());
        assertTrue(group.batches() < group.stored(),
                "40 sessions storing at once must share fsyncs: " + group.stored() + " messages in " + group.batches() + " batches");
        assertEquals(all.stream().sorted().toList(), server.list());
        for (Future<List<String>> f : futures) {
            List<String> ids = f.get();
            for (int i = 0; i < ids.size(); i++) assertTrue(content(server, ids.get(i)).endsWith(" m" + i + "\r\n"));
        }
    }

    @Test
    void sealedSegmentsAreDeletedOnceTheirMessagesAreGone() throws Exception {
        // a sealed segment with live messages waits (grace of a day)
        // 100 bytes: a stored message seals its segment, a removal record (19 bytes) does not
        FileSpool server = serverSpool(new GroupCommitter.Segments(100, Duration.ofDays(1), Duration.ofDays(1)));
        String a = store(server, "a");
        String b = store(server, "b");
        awaitSegments(3);   // a's, b's, and the current one
        server.remove(a);
        awaitSegments(2);   // a's went with its last message; b's stays: b is still queued
        server.remove(b);
        awaitSegments(1);
    }

    @Test
    void aSealedSegmentPastItsGraceIsRetiredAfterForcingItsLiveMessages() throws Exception {
        FileSpool server = serverSpool(new GroupCommitter.Segments(1, Duration.ofDays(1), Duration.ZERO));
        String waiting = store(server, "waiting for a retry");
        server.close();   // the writer's last round retires what it can
        assertEquals(1, segments(), "only the new current segment is left");
        Files.delete(queueFile(waiting));   // only possible on a real crash if it had not been forced; shows
                                            // that recovery no longer needs the journal for it
        FileSpool restarted = new FileSpool(dir);
        assertEquals(List.of(), restarted.recover());
    }

    @Test
    void afterCloseAStoreFailsAndLeavesNothingBehind() throws IOException {
        FileSpool server = serverSpool();
        server.close();
        assertThrows(IOException.class, () -> store(server, "too late"));
        assertEquals(List.of(), server.list());
        try (Stream<Path> tmp = Files.list(dir.resolve("tmp"))) {
            assertEquals(0, tmp.count());
        }
    }

    private void awaitSegments(long expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (segments() != expected) {
            if (System.nanoTime() > deadline) assertEquals(expected, segments(), "journal segments");
            Thread.sleep(20);
        }
    }
}
