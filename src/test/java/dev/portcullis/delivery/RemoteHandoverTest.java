package dev.portcullis.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.FileSpool;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Local recipients first, then the id goes to the remote side, which owns it until it releases it. */
@Timeout(20)
class RemoteHandoverTest {
    @TempDir Path dir;

    static final class Recorder implements RemoteDelivery {
        final List<String> taken = new CopyOnWriteArrayList<>();
        final ConcurrentHashMap<String, Runnable> releases = new ConcurrentHashMap<>();

        @Override public void take(String queueId, Runnable release) {
            taken.add(queueId);
            releases.put(queueId, release);
        }
    }

    static int count(Path mail, String mailbox) {
        try {
            return LocalDeliveryTest.inbox(mail, mailbox).size();
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    static boolean waitFor(BooleanSupplier c) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (c.getAsBoolean()) return true;
            Thread.sleep(20);
        }
        return c.getAsBoolean();
    }

    @Test void localFirstThenHandedOverOnceUntilReleased() throws Exception {
        FileSpool spool = new FileSpool(dir.resolve("queue"));
        Path mail = dir.resolve("mail");
        LocalDelivery local = new LocalDelivery(spool, new TestRecipients(), mail, "mx");
        Recorder remote = new Recorder();
        try (DeliveryAgent agent = new DeliveryAgent(local)) {
            agent.remote(remote);
            agent.start(List.of());
            String id = LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.ALICE, LocalDeliveryTest.CAROL));
            agent.submit(id);
            assertTrue(waitFor(() -> remote.taken.size() == 1), "handed over");
            assertEquals(1, LocalDeliveryTest.inbox(mail, "alice").size(), "the local recipient first");
            assertTrue(spool.done(id).contains(LocalDeliveryTest.ALICE));

            agent.submit(id);   // a second submit (or the periodic rescan) while the remote side owns it
            agent.rescan();
            Thread.sleep(200);
            assertEquals(List.of(id), remote.taken, "owned by the remote side: not run again");

            remote.releases.get(id).run();
            agent.rescan();
            assertTrue(waitFor(() -> remote.taken.size() == 2), "after the release the rescan hands it over again");
            assertEquals(1, LocalDeliveryTest.inbox(mail, "alice").size(), "the local recipient is not delivered twice");
        }
    }

    @Test void heldAndLocalOnlyMessagesAreNotHandedOver() throws Exception {
        FileSpool spool = new FileSpool(dir.resolve("queue"));
        Path mail = dir.resolve("mail");
        LocalDelivery local = new LocalDelivery(spool, new TestRecipients(), mail, "mx");
        Recorder remote = new Recorder();
        String held = LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.CAROL));
        spool.hold(held, "abuse review");
        String localOnly = LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.BOB));
        try (DeliveryAgent agent = new DeliveryAgent(local)) {
            agent.remote(remote);
            agent.start(spool.recover());
            assertTrue(waitFor(() -> count(mail, "bob") == 1));
            Thread.sleep(200);
            assertEquals(List.of(), remote.taken);
            assertEquals(List.of(held), spool.list());
            assertEquals(LocalDelivery.Result.HELD, local.run(held));
            spool.release(held);
            agent.rescan();
            assertTrue(waitFor(() -> remote.taken.equals(List.of(held))), "released: now it goes out");
        }
        assertTrue(localOnly.compareTo(held) > 0);
        assertTrue(new LocalDelivery(spool, new TestRecipients(), mail, "mx").isRemote(Address.of("x", "remote.test")));
    }
}
