package dev.portcullis.outbound;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Back-off between delivery attempts of one recipient (RFC 5321 4.5.4.1: retry after a delay, give up after
 * days). The n-th temporary failure waits the n-th interval of the list; past its end the last one repeats.
 * The default list, 5m 15m 30m 1h 2h 4h, retries within minutes first and then every few hours, and gives up
 * after {@code give_up_after} (5 days) counted from when the message was received.
 */
final class RetrySchedule {
    private final List<Duration> intervals;
    private final Duration giveUpAfter;

    RetrySchedule(List<Duration> intervals, Duration giveUpAfter) {
        if (intervals.isEmpty()) throw new IllegalArgumentException("no retry interval");
        this.intervals = List.copyOf(intervals);
        this.giveUpAfter = giveUpAfter;
    }

    /** When to try again after the {@code failures}-th temporary failure (1 for the first). */
    Instant next(int failures, Instant now) {
        int i = Math.max(0, Math.min(failures, intervals.size()) - 1);
        return now.plus(intervals.get(i));
    }

    /** Whether a message received at {@code received} has been queued too long to try again. */
    boolean expired(Instant received, Instant now) {
        return received != null && !now.isBefore(received.plus(giveUpAfter));
    }
}
