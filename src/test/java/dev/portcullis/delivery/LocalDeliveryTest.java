package dev.portcullis.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.QueueIds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(10)
class LocalDeliveryTest {

    static final Address SENDER = Address.of("sender", "remote.test");
    static final Address ALICE = Address.of("alice", "example.test");
    static final Address BOB = Address.of("bob", "example.test");
    static final Address TEAM = Address.of("team", "example.test");
    static final Address CAROL = Address.of("carol", "remote.test");
    static final String BODY = "Subject: test\r\n\r\nhello\r\n";

    @TempDir Path dir;
    FileSpool spool;
    Path mail;
    LocalDelivery delivery;

    @BeforeEach
    void setUp() throws IOException {
        spool = new FileSpool(dir.resolve("queue"));
        mail = dir.resolve("mail");
        delivery = new LocalDelivery(spool, new TestRecipients(), mail, "mx.example.test");
    }

    static String store(FileSpool spool, Address sender, List<Address> rcpts) throws IOException {
        String id = QueueIds.next();
        spool.store(new Envelope(id, sender, rcpts, Instant.now(), "192.0.2.1", "client.test", null, Map.of()),
                List.of(ByteBuffer.wrap(BODY.getBytes(StandardCharsets.US_ASCII))));
        return id;
    }

    static List<Path> inbox(Path mail, String mailbox) throws IOException {
        Path newDir = mail.resolve(mailbox).resolve("new");
        if (!Files.isDirectory(newDir)) return List.of();
        try (Stream<Path> s = Files.list(newDir)) {
            return s.toList();
        }
    }

    @Test
    void aliasesDeliverOncePerMailboxAndRemoteRecipientsWait() throws IOException {
        String id = store(spool, SENDER, List.of(ALICE, TEAM, CAROL));

        assertFalse(delivery.deliver(id));

        assertEquals(1, inbox(mail, "alice").size());
        assertEquals(1, inbox(mail, "bob").size());
        assertEquals(List.of(id), spool.list(), "carol keeps the message queued");
        assertEquals(Set.of(ALICE, TEAM), spool.done(id));
        String stored = Files.readString(inbox(mail, "alice").getFirst());
        assertEquals("Return-Path: <sender@remote.test>\nDelivered-To: alice@example.test\nSubject: test\n\nhello\n", stored);
        assertTrue(Files.readString(inbox(mail, "bob").getFirst()).startsWith("Return-Path: <sender@remote.test>\nDelivered-To: team@example.test\n"));

        // Running again delivers nothing new: alice and team are done, carol still waits.
        assertFalse(delivery.deliver(id));
        assertEquals(1, inbox(mail, "alice").size());
        assertEquals(1, inbox(mail, "bob").size());
    }

    @Test
    void aCrashBeforeMarkDoneMayDuplicateButNeverLoses() throws IOException {
        String id = store(spool, SENDER, List.of(ALICE, BOB));
        // The delivery of alice happened, then the process died before markDone.
        try (var content = spool.content(id)) {
            new Maildir(mail.resolve("alice"), "mx").deliver(SENDER, ALICE, content);
        }

        FileSpool reopened = new FileSpool(dir.resolve("queue"));
        assertEquals(List.of(id), reopened.recover());
        assertTrue(new LocalDelivery(reopened, new TestRecipients(), mail, "mx").deliver(id));

        assertTrue(inbox(mail, "alice").size() >= 1);
        assertEquals(1, inbox(mail, "bob").size());
        assertEquals(List.of(), reopened.list());
    }

    @Test
    void allLocalRecipientsDoneRemovesTheQueueFile() throws IOException {
        String id = store(spool, Address.NULL_SENDER, List.of(Address.of("postmaster", "example.test"), BOB));

        assertTrue(delivery.deliver(id));

        assertEquals(List.of(), spool.list());
        try (Stream<Path> s = Files.list(dir.resolve("queue").resolve("messages"))) {
            assertEquals(0, s.count());
        }
        assertEquals(1, inbox(mail, "alice").size());
        assertTrue(Files.readString(inbox(mail, "alice").getFirst()).startsWith("Return-Path: <>\n"));
        assertEquals(1, inbox(mail, "bob").size());
        // A late second submission of the same id finds nothing to do, and does not fail.
        assertTrue(delivery.deliver(id));
    }

    @Test
    void discardDoneWithLocalRecipientsWithoutWritingAMailboxButKeepsUnknownAndRemoteOnes() throws IOException {
        LocalDelivery discarding = new LocalDelivery(spool, new TestRecipients(), mail, "mx.example.test", true);
        String dropped = store(spool, SENDER, List.of(ALICE, TEAM));
        String mixed = store(spool, SENDER, List.of(BOB, Address.of("nobody", "example.test"), CAROL));

        assertEquals(LocalDelivery.Result.REMOVED, discarding.run(dropped));
        assertEquals(LocalDelivery.Result.REMOTE_PENDING, discarding.run(mixed));

        assertFalse(Files.exists(mail), "no mailbox was written, not even created");
        assertEquals(List.of(mixed), spool.list(), "the discarded message left the queue");
        assertEquals(Set.of(BOB), spool.done(mixed), "an unknown mailbox is kept, the remote one waits");
    }

    @Test
    void anUnknownLocalAddressIsKeptNotDropped() throws IOException {
        Address gone = Address.of("nobody", "example.test");
        String id = store(spool, SENDER, List.of(gone, BOB));

        assertFalse(delivery.deliver(id));

        assertEquals(Set.of(BOB), spool.done(id));
        assertEquals(List.of(id), spool.list());
    }

    @Test
    void aMailboxNameThatCouldEscapeTheMailRootIsRefused() throws IOException {
        LocalRecipients mailboxIsLocalPart = new LocalRecipients() {
            @Override public boolean isLocalDomain(String domain) { return domain.equals("example.test"); }
            @Override public Optional<List<String>> mailboxesFor(Address a) { return Optional.of(List.of(a.localPart())); }
        };
        LocalDelivery evil = new LocalDelivery(spool, mailboxIsLocalPart, mail, "mx");
        String id = store(spool, SENDER, List.of(Address.of("..", "example.test"), Address.of("../x", "example.test"),
                Address.of(".hidden", "example.test")));

        assertFalse(evil.deliver(id));

        assertEquals(Set.of(), spool.done(id));
        assertFalse(Files.exists(dir.resolve("x")));
        assertFalse(Files.exists(mail.resolve(".hidden")));
    }

    @Test
    void aBrokenMailboxFailsTheRunButTheOthersAreDelivered() throws IOException {
        Files.createDirectories(mail);
        Files.writeString(mail.resolve("alice"), "not a folder");
        String id = store(spool, SENDER, List.of(ALICE, BOB));

        assertThrows(IOException.class, () -> delivery.deliver(id));

        assertEquals(Set.of(BOB), spool.done(id));
        assertEquals(1, inbox(mail, "bob").size());
        Files.delete(mail.resolve("alice"));
        assertTrue(delivery.deliver(id));
        assertEquals(1, inbox(mail, "alice").size());
        assertEquals(1, inbox(mail, "bob").size());
    }
}
