package dev.portcullis.dns;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs actions at the deadlines of DNS waits (closing a query's socket, failing a wait for a lookup), so
 * that the waiting virtual thread parks without a timeout. A virtual thread's timed park (SO_TIMEOUT,
 * get(timeout), and in JDK 25 CompletableFuture.orTimeout too) schedules and cancels a task in a
 * ForkJoinPool's delay scheduler, which wakes its thread for each; at 20 sessions with uncached lookups
 * that thread took about 6 % of the server's CPU. This executor's thread is woken only when a new deadline
 * comes before every pending one; under load an earlier deadline is nearly always pending.
 */
final class Deadlines {
    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private Deadlines() {}

    private static ScheduledThreadPoolExecutor timer() {
        var e = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().daemon().name("dns-deadlines").unstarted(r));
        e.setRemoveOnCancelPolicy(true); // a wait that ends in time leaves no task behind
        return e;
    }

    /** Runs {@code action} in {@code nanos} unless the returned future is cancelled first. */
    static ScheduledFuture<?> in(long nanos, Runnable action) {
        return TIMER.schedule(action, nanos, TimeUnit.NANOSECONDS);
    }
}
