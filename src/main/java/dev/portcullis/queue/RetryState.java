package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.time.Instant;
import java.util.Objects;

/**
 * Where outbound delivery stands with one recipient of a queued message that is not done yet: how many
 * attempts failed temporarily, when the next one is due, what the last one said (RFC 3463 status, the remote
 * MTA that answered or null, the diagnostic) and whether the sender was already warned of the delay.
 * Kept durably next to the message by {@link Spool#saveRetryState}, so a restart neither forgets the back-off
 * nor warns twice.
 */
public record RetryState(
        Address recipient,
        int attempts,
        Instant nextAttempt,
        String status,       // e.g. "4.4.1", or null before the first attempt
        String remoteMta,    // the host that answered last, or null
        String lastError,    // the diagnostic of the last attempt, or null
        boolean warned) {    // a delay warning was sent for this recipient

    public RetryState {
        Objects.requireNonNull(recipient, "recipient");
        Objects.requireNonNull(nextAttempt, "nextAttempt");
        if (attempts < 0) throw new IllegalArgumentException("negative attempt count");
    }

    /** A recipient nothing was tried for yet: due at {@code now}. */
    public static RetryState fresh(Address recipient, Instant now) {
        return new RetryState(recipient, 0, now, null, null, null, false);
    }
}
