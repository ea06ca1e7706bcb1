package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Back-off, queue lifetime and the per-destination rate. */
@Timeout(10)
class ScheduleTest {
    static final Instant T = Instant.parse("2024-05-01T12:00:00Z");

    @Test void backOffGrowsThenRepeatsTheLastInterval() {
        RetrySchedule s = new RetrySchedule(List.of(Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(4)), Duration.ofDays(5));
        assertEquals(T.plus(Duration.ofMinutes(5)), s.next(1, T));
        assertEquals(T.plus(Duration.ofMinutes(30)), s.next(2, T));
        assertEquals(T.plus(Duration.ofHours(4)), s.next(3, T));
        assertEquals(T.plus(Duration.ofHours(4)), s.next(50, T));
        assertEquals(T.plus(Duration.ofMinutes(5)), s.next(0, T));
    }

    @Test void theQueueLifetimeCountsFromArrival() {
        RetrySchedule s = new RetrySchedule(List.of(Duration.ofMinutes(5)), Duration.ofDays(5));
        assertFalse(s.expired(T, T.plus(Duration.ofDays(5)).minusSeconds(1)));
        assertTrue(s.expired(T, T.plus(Duration.ofDays(5))));
        assertFalse(s.expired(null, T), "no arrival time: never expires by age");
    }

    @Test void theRateSpacesMessagesEvenly() throws InterruptedException {
        RateLimiter off = new RateLimiter(0, Duration.ofSeconds(1));
        long start = System.nanoTime();
        for (int i = 0; i < 1000; i++) off.acquire();
        assertTrue(System.nanoTime() - start < Duration.ofMillis(200).toNanos());

        RateLimiter twentyPerSecond = new RateLimiter(20, Duration.ofSeconds(1));
        start = System.nanoTime();
        for (int i = 0; i < 6; i++) twentyPerSecond.acquire(); // the first at once, then one every 50 ms
        long took = System.nanoTime() - start;
        assertTrue(took >= Duration.ofMillis(240).toNanos(), "took " + took / 1_000_000 + " ms");
        assertTrue(took < Duration.ofSeconds(2).toNanos(), "took " + took / 1_000_000 + " ms");
    }
}
