package dev.portcullis.delivery;

/**
 * Delivery to recipients in other domains (outbound: MX or smarthost), as seen by the {@link DeliveryAgent}.
 *
 * Ownership: the agent hands over a queue id once its local recipients are done; from then until the remote
 * side calls {@code release}, the agent treats the id as in hand (its periodic rescan leaves it alone), so one
 * component at a time works on a message. The remote side calls {@code release} exactly once, when it lets
 * go of the id: every recipient it had is done (the message may have left the queue), the message was put on
 * hold or removed meanwhile, or it is closing. After a release the agent's rescan picks the id up again if it
 * is still queued.
 */
public interface RemoteDelivery {
    /** Takes over {@code queueId}; must not block for long and must not throw. */
    void take(String queueId, Runnable release);

    /**
     * Makes every recipient it holds that waits for its next attempt due now (the queue tools' flush, like
     * {@code postqueue -f}). Must not block for long and must not throw.
     */
    default void retryNow() {}
}
