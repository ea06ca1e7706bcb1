package dev.portcullis.outbound;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.QueueIds;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.logging.Logger;

/*
 * Delivery status notifications for the queue manager: bounces (FAILED), delay warnings (DELAYED) and
 * double bounces. The message itself comes from Dsn.build (RFC 3464); this class decides who gets one and
 * puts it in the spool, from which it is delivered like any message: into the sender's Maildir when the
 * sender is local, through outbound delivery when not.
 *
 * Invariants:
 * - Nothing is ever sent about a message from the null sender <> to that sender (RFC 5321 4.5.5, RFC 3464
 *   2: a DSN is never answered by a DSN). A FAILED recipient of such a message is a double bounce: a DSN
 *   goes to the local postmaster instead — unless the message is itself a double bounce, which is only
 *   logged. So the chain ends after at most two generated messages: no loop, whatever fails.
 * - A notification is in the spool (durable, store() returned) before the caller marks the recipients done;
 *   a crash in between sends it twice, never zero times.
 *
 * Generated messages carry a marker in the envelope's authUser ("mailer-daemon:dsn" or
 * "mailer-daemon:double-bounce", the same "kind:name" form as the pickup's "local:<owner>"; account names
 * cannot contain ':'), so the queue manager can tell a double bounce from everything else.
 */
final class Bouncer {
    private static final Logger LOG = Logger.getLogger("portcullis.outbound");

    static final String DSN_IDENTITY = "mailer-daemon:dsn";
    static final String DOUBLE_BOUNCE_IDENTITY = "mailer-daemon:double-bounce";

    interface ContentSource { InputStream open() throws IOException; }

    private final Spool spool;
    private final Dsn dsn;
    private final String reportingMta;
    private final Address postmaster;
    private final Consumer<String> queued;
    private final Clock clock;
    private final java.time.Duration giveUpAfter; // for "will retry until" in delay warnings; null: not said

    Bouncer(Spool spool, Dsn dsn, String reportingMta, Address postmaster, Consumer<String> queued, Clock clock) {
        this(spool, dsn, reportingMta, postmaster, queued, clock, null);
    }

    Bouncer(Spool spool, Dsn dsn, String reportingMta, Address postmaster, Consumer<String> queued, Clock clock,
            java.time.Duration giveUpAfter) {
        this.giveUpAfter = giveUpAfter;
        this.spool = spool;
        this.dsn = dsn;
        this.reportingMta = reportingMta;
        this.postmaster = postmaster;
        this.queued = queued;
        this.clock = clock;
    }

    /** Reports FAILED recipients of {@code original}: to its sender, or as a double bounce to the postmaster. */
    void failed(Envelope original, List<RecipientOutcome> failed, ContentSource content) throws IOException {
        if (failed.isEmpty()) return;
        String id = original.queueId();
        if (!original.sender().isNull()) {
            String dsnId = store(original, original.sender(), failed, content, DSN_IDENTITY, null);
            LOG.info(() -> "outbound queue_id=" + id + " bounce queue_id=" + dsnId + " to=" + original.sender()
                    + " recipients=" + recipients(failed));
            return;
        }
        if (DOUBLE_BOUNCE_IDENTITY.equals(original.authUser())) {
            LOG.warning(() -> "outbound queue_id=" + id + " double bounce undeliverable, discarded (never a third): to="
                    + recipients(failed) + " " + failed.getFirst().diagnostic());
            return;
        }
        // RFC 3464 needs a sender to report to; the postmaster stands in for <> (Postfix's "2bounce" notice).
        Envelope asIfFromPostmaster = new Envelope(id, postmaster, original.recipients(), original.received(),
                original.clientAddress(), original.helo(), original.authUser(), original.mailParameters());
        String dsnId = store(asIfFromPostmaster, postmaster, failed, content, DOUBLE_BOUNCE_IDENTITY, null);
        LOG.warning(() -> "outbound queue_id=" + id + " from=<> undeliverable, no bounce to the null sender; double bounce queue_id="
                + dsnId + " to=" + postmaster + " recipients=" + recipients(failed));
    }

    /** Warns the sender that {@code delayed} recipients are still being retried. False when there is nobody to warn. */
    boolean delayed(Envelope original, List<RecipientOutcome> delayed, ContentSource content) throws IOException {
        if (delayed.isEmpty()) return false;
        if (original.sender().isNull()) return false; // nobody to warn, and nothing to answer a DSN with
        Instant until = giveUpAfter == null || original.received() == null ? null : original.received().plus(giveUpAfter);
        String dsnId = store(original, original.sender(), delayed, content, DSN_IDENTITY, until);
        LOG.info(() -> "outbound queue_id=" + original.queueId() + " delay warning queue_id=" + dsnId + " to="
                + original.sender() + " recipients=" + recipients(delayed));
        return true;
    }

    private String store(Envelope original, Address to, List<RecipientOutcome> outcomes, ContentSource content,
                         String identity, Instant retryUntil) throws IOException {
        Instant now = clock.instant();
        byte[] message;
        try (InputStream in = content.open()) {
            // DsnBuilder can say until when a delayed recipient is retried (RFC 3464 2.3.9 Will-Retry-Until).
            message = retryUntil != null && dsn instanceof DsnBuilder builder
                    ? builder.build(reportingMta, original, outcomes, in, now, retryUntil)
                    : dsn.build(reportingMta, original, outcomes, in, now);
        }
        String id = QueueIds.next();
        Map<String, String> params = ascii(to.mailbox()) ? Map.of() : Map.of("SMTPUTF8", "");
        Envelope envelope = new Envelope(id, Address.NULL_SENDER, List.of(to), now, "127.0.0.1", reportingMta, identity, params);
        spool.store(envelope, List.of(ByteBuffer.wrap(message)));
        queued.accept(id);
        return id;
    }

    private static boolean ascii(String s) {
        return s.chars().allMatch(c -> c < 128);
    }

    private static String recipients(List<RecipientOutcome> outcomes) {
        return String.join(",", outcomes.stream().map(o -> o.recipient().path()).toList());
    }
}
