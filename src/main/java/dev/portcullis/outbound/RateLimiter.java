package dev.portcullis.outbound;

import java.time.Duration;

/**
 * An outbound rate for one destination: at most {@code messages} per {@code per}, spread evenly (one every
 * per/messages), so a burst never hits the peer's own rate limits. {@link #acquire} waits for the next free
 * slot; with no limit it returns at once. Slots are handed out in order, so waiting senders keep their turn.
 */
final class RateLimiter {
    private final long spacingNanos;
    private long nextFree = System.nanoTime();

    RateLimiter(int messages, Duration per) {
        this.spacingNanos = messages <= 0 ? 0 : Math.max(1, per.toNanos() / messages);
    }

    boolean limited() { return spacingNanos > 0; }

    /** Waits until this sender may send one message. */
    void acquire() throws InterruptedException {
        if (spacingNanos == 0) return;
        long slot;
        synchronized (this) {
            long now = System.nanoTime();
            slot = Math.max(now, nextFree);
            nextFree = slot + spacingNanos;
        }
        long wait = slot - System.nanoTime();
        if (wait > 0) Thread.sleep(Duration.ofNanos(wait));
    }
}
