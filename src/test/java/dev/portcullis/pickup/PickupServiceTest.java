package dev.portcullis.pickup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.FileSpool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserPrincipal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The server side of the maildrop, with a real FileSpool. */
@Timeout(60)
class PickupServiceTest {
    static final String HOST = "mx.test";
    static final Address SENDER = Address.of("alice", "example.test");
    static final Address BOB = Address.of("bob", "example.test");
    static final byte[] MESSAGE = "From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir Path dir;
    Path maildropDir;
    Maildrop maildrop;
    FileSpool spool;
    BlockingQueue<String> queued = new LinkedBlockingQueue<>();
    PickupService service;

    @BeforeEach void setUp() throws IOException {
        maildropDir = dir.resolve("maildrop");
        maildrop = new Maildrop(maildropDir);
        spool = new FileSpool(dir.resolve("queue"));
    }

    @AfterEach void tearDown() {
        if (service != null) service.close();
    }

    PickupService start(Predicate<Envelope> admit) throws IOException {
        service = new PickupService(maildropDir, spool, queued::add, HOST, Clock.systemUTC(), admit);
        service.start();
        return service;
    }

    PickupService start() throws IOException { return start(e -> true); }

    Path drop(Address sender, List<Address> rcpts, byte[] message) throws IOException {
        return maildrop.write(new Maildrop.Entry(sender, rcpts, System.getProperty("user.name"), "ti", message));
    }

    String nextQueued() throws InterruptedException {
        String id = queued.poll(20, TimeUnit.SECONDS);
        assertNotNull(id, "queued within the rescan interval");
        return id;
    }

    static List<Path> files(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) return List.of();
        try (Stream<Path> s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }

    static void awaitFile(Path folder) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (files(folder).isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "nothing arrived in " + folder);
            Thread.sleep(20);
        }
    }

    /** The file is deleted just after queued.accept(): give the service a moment. */
    static void awaitEmpty(Path folder) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!files(folder).isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "still there: " + files(folder));
            Thread.sleep(10);
        }
    }

    static String content(FileSpool spool, String id) throws IOException {
        try (InputStream in = spool.content(id)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static String me() throws IOException {
        Path probe = Files.createTempFile("owner", null);
        try {
            return Files.getOwner(probe).getName();
        } finally {
            Files.delete(probe);
        }
    }

    @Test void aDroppedFileBecomesASpooledMessageAndLeavesTheMaildrop() throws Exception {
        start();
        Instant before = Instant.now();
        Path file = drop(SENDER, List.of(BOB), MESSAGE);
        String id = nextQueued();

        Envelope e = spool.envelope(id);
        assertEquals(id, e.queueId());
        assertEquals(SENDER, e.sender());
        assertEquals(List.of(BOB), e.recipients());
        assertEquals("127.0.0.1", e.clientAddress());
        assertEquals("localhost", e.helo());
        assertEquals("local:" + me(), e.authUser(), "the identity is the file's owner");
        assertFalse(e.received().isBefore(before.minusSeconds(1)), e.received().toString());

        String text = content(spool, id);
        assertTrue(text.startsWith("Received: from local user " + me() + "\r\n\tby mx.test (Portcullis) with local id "
                + id + "\r\n\tfor <bob@example.test>;\r\n\t"), text);
        assertTrue(text.matches("(?s)Received: [^\n]*\n\t[^\n]*\n\t[^\n]*\n\t\\w{3}, \\d{1,2} \\w{3} \\d{4} [0-9:]{8} \\+0000\r\n.*"), text);
        assertTrue(text.endsWith("\r\n" + new String(MESSAGE, StandardCharsets.US_ASCII)), text);

        awaitEmpty(maildropDir.resolve("active"));
        assertFalse(Files.exists(file), "removed from new/");
        assertEquals(List.of(), files(maildropDir.resolve("new")));
        assertEquals(List.of(id), spool.list());
    }

    @Test void theOwnerIsTheIdentityWhateverTheFileClaims() throws Exception {
        assumeTrue("root".equals(me()), "needs root to give a file to another user");
        UserPrincipal nobody;
        try {
            nobody = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        } catch (IOException e) {
            assumeTrue(false, "no user 'nobody'");
            return;
        }
        Path file = maildrop.write(new Maildrop.Entry(SENDER, List.of(BOB), "root", "", MESSAGE));
        Files.setOwner(file, nobody);
        start();
        Envelope e = spool.envelope(nextQueued());
        assertEquals("local:nobody", e.authUser());
    }

    @Test void aFileDroppedWhileTheServerWasDownIsTakenAtStart() throws Exception {
        Path file = drop(SENDER, List.of(BOB, Address.of("carol", "example.test")), MESSAGE);
        assertTrue(Files.exists(file));
        start();
        String id = nextQueued();
        assertEquals(2, spool.envelope(id).recipients().size());
        assertTrue(content(spool, id).contains("\r\n\t;\r\n"), "no 'for' with two recipients");
        assertFalse(Files.exists(file));
    }

    @Test void aCorruptFileIsSetAsideAndTheServiceCarriesOn() throws Exception {
        start();
        Files.writeString(maildropDir.resolve("new").resolve("0.garbage"), "this is not a maildrop file\n\nhi\n");
        awaitFile(maildropDir.resolve("corrupt"));
        assertEquals(List.of("0.garbage"), files(maildropDir.resolve("corrupt")).stream().map(p -> p.getFileName().toString()).toList());
        assertEquals(List.of(), spool.list());

        drop(SENDER, List.of(BOB), MESSAGE);
        nextQueued();
        assertEquals(1, spool.list().size());
    }

    @Test void theAdmitPredicateHoldsAFile() throws Exception {
        Address spam = Address.of("victim", "example.net");
        start(e -> !e.recipients().contains(spam));
        Path refused = drop(SENDER, List.of(spam), MESSAGE);
        awaitFile(maildropDir.resolve("held"));
        assertEquals(List.of(refused.getFileName()), files(maildropDir.resolve("held")).stream().map(Path::getFileName).toList());
        assertEquals(List.of(), spool.list());

        drop(SENDER, List.of(BOB), MESSAGE);
        nextQueued();
        assertEquals(1, spool.list().size(), "others still pass");
        assertNull(queued.poll(), "nothing else queued");
    }

    @Test void theAdmitPredicateSeesTheLocalIdentity() throws Exception {
        BlockingQueue<Envelope> seen = new LinkedBlockingQueue<>();
        start(e -> seen.add(e));
        drop(SENDER, List.of(BOB), MESSAGE);
        Envelope e = seen.poll(20, TimeUnit.SECONDS);
        assertNotNull(e);
        assertEquals("local:" + me(), e.authUser());
        assertEquals(e.queueId(), nextQueued(), "the envelope it admitted is the one queued");
    }

    @Test void aSymbolicLinkIsNeverFollowed() throws Exception {
        Path secret = dir.resolve("secret");
        Files.write(secret, ("portcullis-maildrop 1\nsender <>\nrcpt <" + BOB.mailbox() + ">\n\nsecret\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        start();
        Files.createDirectories(maildropDir.resolve("new"));
        Files.createSymbolicLink(maildropDir.resolve("new").resolve("1.link"), secret);
        awaitFile(maildropDir.resolve("corrupt"));
        assertTrue(Files.isSymbolicLink(maildropDir.resolve("corrupt").resolve("1.link")));
        assertTrue(Files.exists(secret), "the target is untouched");
        assertEquals(List.of(), spool.list());
    }

    @Test void aHardLinkToSomeoneElsesFileIsRefused() throws Exception {
        Path other = dir.resolve("other");
        Files.write(other, ("portcullis-maildrop 1\nsender <>\nrcpt <" + BOB.mailbox() + ">\n\nsecret\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        start();
        try {
            Files.createLink(maildropDir.resolve("new").resolve("1.hardlink"), other);
        } catch (UnsupportedOperationException | IOException e) {
            assumeTrue(false, "no hard links here: " + e);
        }
        awaitFile(maildropDir.resolve("corrupt"));
        assertEquals(List.of(), spool.list());
    }

    @Test void aMessageOverTheSizeLimitIsHeld() throws Exception {
        service = new PickupService(maildropDir, spool, queued::add, HOST, Clock.systemUTC()).maxMessageSize(MESSAGE.length - 1);
        service.start();
        drop(SENDER, List.of(BOB), MESSAGE);
        awaitFile(maildropDir.resolve("held"));
        assertEquals(List.of(), spool.list());
    }

    @Test void startCreatesTheFoldersWithTheirModes() throws Exception {
        start();
        assumeTrue(Files.getFileStore(maildropDir).supportsFileAttributeView("unix"));
        for (String sub : List.of("tmp", "new"))
            assertEquals(01733, mode(maildropDir.resolve(sub)), sub + ": world-writable, sticky, not listable");
        assertEquals(0711, mode(maildropDir), "local users pass through, nobody lists it");
        for (String sub : List.of("active", "corrupt", "held"))
            assertEquals(0700, mode(maildropDir.resolve(sub)), sub + ": the server's alone");
    }

    static int mode(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode")) & 07777;
    }

    @Test void staleHalfWrittenFilesAreRemovedAtStartRecentOnesKept() throws Exception {
        Files.createDirectories(maildropDir.resolve("tmp"));
        Path stale = Files.writeString(maildropDir.resolve("tmp").resolve("1.1.dead"), "portcullis-maildrop 1\nsen");
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
        Path writing = Files.writeString(maildropDir.resolve("tmp").resolve("2.2.busy"), "portcullis-maildrop 1\nsen");
        start();
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(writing), "a sendmail may still be writing it");
    }

    @Test void aFileLeftInActiveByACrashIsQueuedAtStart() throws Exception {
        Path file = drop(SENDER, List.of(BOB), MESSAGE);
        Files.createDirectories(maildropDir.resolve("active"));
        Files.move(file, maildropDir.resolve("active").resolve(file.getFileName()));
        start();
        nextQueued();
        awaitEmpty(maildropDir.resolve("active"));
    }

    @Test void lineEndsAreRepairedForFilesNotWrittenBySendmail() throws Exception {
        start();
        Path tmp = maildropDir.resolve("tmp").resolve("3.3.manual");
        Files.write(tmp, ("portcullis-maildrop 1\nsender <>\nrcpt <" + BOB.mailbox() + ">\n\nSubject: x\n\nbare\rcr\nno end")
                .getBytes(StandardCharsets.US_ASCII));
        Files.move(tmp, maildropDir.resolve("new").resolve("3.3.manual"));
        String id = nextQueued();
        assertTrue(content(spool, id).endsWith("\r\nSubject: x\r\n\r\nbarecr\r\nno end\r\n"), content(spool, id));
        assertEquals(Address.NULL_SENDER, spool.envelope(id).sender());
    }

    @Test void afterCloseNothingIsTaken() throws Exception {
        start();
        service.close();
        service.close();   // idempotent
        Path file = drop(SENDER, List.of(BOB), MESSAGE);
        assertNull(queued.poll(PickupService.RESCAN.toMillis() + 1000, TimeUnit.MILLISECONDS));
        assertTrue(Files.exists(file), "still waiting for the next start");
    }

    @Test void aSpoolFailureLeavesTheFileForTheNextScan() throws Exception {
        Path queueDir = dir.resolve("queue");
        start();
        // make the spool fail: its tmp/ folder is gone and a file stands in its place
        Files.delete(queueDir.resolve("tmp"));
        Files.writeString(queueDir.resolve("tmp"), "blocked");
        Path file = drop(SENDER, List.of(BOB), MESSAGE);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (files(maildropDir.resolve("active")).isEmpty() && Files.exists(file)) {
            assertTrue(System.nanoTime() < deadline);
            Thread.sleep(20);
        }
        Thread.sleep(200);
        assertEquals(List.of(), spool.list());
        assertEquals(1, files(maildropDir.resolve("active")).size(), "kept, not lost");
        Files.delete(queueDir.resolve("tmp"));
        Files.createDirectory(queueDir.resolve("tmp"));
        nextQueued();   // the next rescan retries it
        awaitEmpty(maildropDir.resolve("active"));
    }
}
