package dev.portcullis.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Dns#await}: get(timeout)'s outcomes, without a timed park. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DnsAwaitTest {
    private static long in(long millis) { return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis); }

    @Test
    void aCompletedValueIsReturnedEvenPastTheDeadline() throws Exception {
        assertEquals("done", Dns.await(CompletableFuture.completedFuture("done"), in(-1000)));
    }

    @Test
    void aValueThatArrivesBeforeTheDeadlineIsReturned() throws Exception {
        CompletableFuture<String> f = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException ignored) {
                // completes at once then
            }
            f.complete("late but in time");
        });
        assertEquals("late but in time", Dns.await(f, in(5000)));
    }

    @Test
    void noValueByTheDeadlineIsATimeoutAndLeavesTheFutureAlone() {
        CompletableFuture<String> f = new CompletableFuture<>();
        long start = System.nanoTime();
        assertThrows(TimeoutException.class, () -> Dns.await(f, in(200)));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(waited >= 190, "gave up after " + waited + " ms of 200");
        assertFalse(f.isDone(), "the lookup itself is not failed: another may still await it");
        assertThrows(TimeoutException.class, () -> Dns.await(f, in(-1)), "a deadline already past");
    }

    @Test
    void aFailureIsAnExecutionExceptionWithItsCause() {
        IllegalStateException boom = new IllegalStateException("boom");
        CompletableFuture<String> failed = CompletableFuture.failedFuture(boom);
        assertSame(boom, assertThrows(ExecutionException.class, () -> Dns.await(failed, in(1000))).getCause());
        CompletableFuture<String> later = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> later.completeExceptionally(boom));
        assertSame(boom, assertThrows(ExecutionException.class, () -> Dns.await(later, in(5000))).getCause());
    }
}
