package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The durable queue. Invariant: when {@link #store} returns, the message and its envelope survive a
 * crash (forced on their own, or in the spool's journal: see FileSpool); when it throws, nothing was
 * queued (a half-written temporary file may remain and is removed by {@link #recover}).
 */
public interface Spool {

    /**
     * Stores the message durably. The content parts are written in order (e.g. Received header, then body).
     * The spool may keep the buffers themselves until the message is delivered (FileSpool under group
     * commit does): the caller must not change their bytes once this returns.
     */
    void store(Envelope envelope, List<ByteBuffer> content) throws IOException;

    /** Removes half-written files and returns the ids of every message still queued, oldest first. */
    List<String> recover() throws IOException;

    /** The stored envelope of a queued message. */
    Envelope envelope(String queueId) throws IOException;

    /** The stored content (CRLF line endings, exactly the bytes stored). Caller closes. */
    InputStream content(String queueId) throws IOException;

    /** Durably records that one recipient is done (delivered or bounced), so a restart does not deliver it again. */
    void markDone(String queueId, Address recipient) throws IOException;

    /** Recipients already marked done. */
    Set<Address> done(String queueId) throws IOException;

    /** Removes the message and its records once every recipient is done. */
    void remove(String queueId) throws IOException;

    /** Ids of all queued messages, oldest first (held ones included). */
    List<String> list() throws IOException;

    /**
     * Puts a message on hold with a reason: delivery leaves it alone until {@link #release}. Durable: a
     * restart keeps it held (an account held for abuse must not start sending when the server restarts).
     */
    void hold(String queueId, String reason) throws IOException;

    void release(String queueId) throws IOException;

    /** The reason a message is held, or null when it is not. */
    String heldReason(String queueId) throws IOException;

    /**
     * The outbound retry state saved for a message's recipients (see {@link RetryState}); empty when none
     * was saved. Recipients not in the map have not been tried yet.
     */
    default Map<Address, RetryState> retryState(String queueId) throws IOException {
        return Map.of();
    }

    /**
     * Durably replaces the retry state of a queued message: when this returns the new state survives a
     * crash, and a crash during the call leaves the old state or the new one, never a mix.
     * {@link #remove} removes it with the message.
     */
    default void saveRetryState(String queueId, Collection<RetryState> states) throws IOException {
        throw new UnsupportedOperationException("this spool keeps no retry state");
    }
}
