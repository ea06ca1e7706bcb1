package dev.portcullis.outbound;

import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Bounces ordered by the administrator ({@code portcullis queue bounce}): the same {@link Bouncer} and
 * {@link DsnBuilder} as the queue manager's, so the sender gets the same RFC 3464 report, stored in the spool
 * from {@code <>} and delivered like any message. It runs in the queue tool's process, which is why it takes
 * the spool and the host name rather than a running queue manager.
 *
 * Only the report is stored here; marking the recipients done is the caller's next step (Bouncer's order: the
 * report is durable before the recipients are done, so a crash sends it twice, never zero times).
 */
public final class AdminBounce {
    /** RFC 3463: permanent, other/undefined — nothing went wrong with the address, someone decided. */
    public static final String STATUS = "5.0.0";
    public static final String DIAGNOSTIC = "bounced by the administrator";

    private AdminBounce() {}

    /**
     * Stores a bounce to the sender of {@code original} for {@code recipients}, each with its last error or null
     * (said in the report after {@link #DIAGNOSTIC}). Returns the bounce's queue id, or null when the sender is
     * the null sender: a DSN is never sent to {@code <>}, and the administrator who bounced it needs no double
     * bounce either (Exim's {@code -Mg} discards bounce messages the same way).
     */
    public static String store(Spool spool, String hostname, Envelope original, Map<Address, String> recipients,
                               Clock clock) throws IOException {
        if (original.sender().isNull() || recipients.isEmpty()) return null;
        List<RecipientOutcome> failed = new ArrayList<>();
        recipients.forEach((r, lastError) -> failed.add(new RecipientOutcome(r, Action.FAILED, STATUS, null,
                lastError == null || lastError.isBlank() ? DIAGNOSTIC : DIAGNOSTIC + "; last attempt: " + lastError)));
        String[] stored = new String[1];
        Bouncer bouncer = new Bouncer(spool, new DsnBuilder(hostname, ZoneOffset.UTC), hostname,
                Address.of("postmaster", hostname), id -> stored[0] = id, clock);
        bouncer.failed(original, failed, () -> spool.content(original.queueId()));
        return stored[0];
    }
}
