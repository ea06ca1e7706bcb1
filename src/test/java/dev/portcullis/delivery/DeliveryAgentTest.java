package dev.portcullis.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.queue.FileSpool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(20)
class DeliveryAgentTest {

    @TempDir Path dir;

    private static boolean waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) return true;
            Thread.sleep(20);
        }
        return condition.getAsBoolean();
    }

    private static int count(Path mail, String mailbox) {
        try {
            return LocalDeliveryTest.inbox(mail, mailbox).size();
        } catch (IOException e) {
            return -1;
        }
    }

    @Test
    void submittedAndRecoveredMessagesAreDelivered() throws Exception {
        FileSpool spool = new FileSpool(dir.resolve("queue"));
        Path mail = dir.resolve("mail");
        LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.ALICE));
        try (DeliveryAgent agent = new DeliveryAgent(new LocalDelivery(spool, new TestRecipients(), mail, "mx"))) {
            agent.start(spool.recover());
            assertTrue(waitFor(() -> count(mail, "alice") == 1), "recovered message delivered");
            assertTrue(waitFor(() -> queued(spool).isEmpty()), "recovered message removed from the queue");

            String submitted = LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.BOB));
            agent.submit(submitted);
            assertTrue(waitFor(() -> count(mail, "bob") == 1), "submitted message delivered");
            assertTrue(waitFor(() -> queued(spool).isEmpty()), "removed from the queue");
        }
    }

    private static List<String> queued(FileSpool spool) {
        try {
            return spool.list();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aFailedDeliveryIsRetriedNotLost() throws Exception {
        FileSpool spool = new FileSpool(dir.resolve("queue"));
        Path mail = dir.resolve("mail");
        Files.createDirectories(mail);
        Files.writeString(mail.resolve("alice"), "not a folder: delivery fails until it goes");
        try (DeliveryAgent agent = new DeliveryAgent(new LocalDelivery(spool, new TestRecipients(), mail, "mx"),
                Duration.ofMillis(100))) {
            agent.start(List.of());
            String id = LocalDeliveryTest.store(spool, LocalDeliveryTest.SENDER, List.of(LocalDeliveryTest.ALICE));
            agent.submit(id);
            Thread.sleep(300);
            assertEquals(List.of(id), spool.list());
            Files.delete(mail.resolve("alice"));
            assertTrue(waitFor(() -> count(mail, "alice") == 1), "delivered on a retry");
        }
    }
}
