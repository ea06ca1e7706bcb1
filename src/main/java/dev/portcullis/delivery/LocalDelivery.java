package dev.portcullis.delivery;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/*
 * Final delivery of a queued message to its local recipients, one Maildir per mailbox under mailRoot.
 *
 * Invariants: a recipient is marked done only after every mailbox it expands to holds the message
 * durably (Maildir.deliver returned), so a crash can cause a duplicate but never a loss. Within one run a
 * mailbox gets the message once, however many recipients (aliases) lead to it; across runs (a crash between
 * delivery and markDone, a retry after a failure) a mailbox may get it twice, which DESIGN accepts.
 * The message leaves the queue only when every recipient is done.
 */
public final class LocalDelivery {

    private static final Logger LOG = Logger.getLogger("portcullis.delivery");
    /** Mailbox names are folder names under mailRoot: nothing that could climb out of it, or hide. */
    private static final Pattern MAILBOX = Pattern.compile("[a-z0-9][a-z0-9._-]*");

    private final Spool spool;
    private final LocalRecipients local;
    private final Path mailRoot;
    private final String hostname;
    private final boolean discard;

    public LocalDelivery(Spool spool, LocalRecipients local, Path mailRoot, String hostname) {
        this(spool, local, mailRoot, hostname, false);
    }

    /**
     * With {@code discard}, a local recipient is done without any mailbox write ([local] delivery = "discard"):
     * every other step (queue, hold, aliases, unknown mailboxes kept, remote recipients) is the same.
     */
    public LocalDelivery(Spool spool, LocalRecipients local, Path mailRoot, String hostname, boolean discard) {
        this.spool = spool;
        this.local = local;
        this.mailRoot = mailRoot;
        this.hostname = hostname;
        this.discard = discard;
    }

    /** What a local delivery run left behind. */
    public enum Result {
        /** Every recipient is done: the message left the queue (or was already gone). */
        REMOVED,
        /** On hold: nothing was delivered. */
        HELD,
        /** Local recipients are done; recipients in other domains wait for outbound delivery. */
        REMOTE_PENDING,
        /** Only local recipients without a valid mailbox are left: kept queued, visible, never dropped. */
        KEPT
    }

    /** Whether a delivery writes and forces files (Maildir), or only reads the queue (discard). */
    boolean writesToDisk() { return !discard; }

    /** Every message in the queue, for the periodic rescan. */
    List<String> queuedIds() throws IOException { return spool.list(); }

    /**
     * Delivers every local recipient not yet done. Returns true when no recipient is left and the message
     * was removed from the queue (or was already gone); false when some recipient still waits (remote, or
     * local but unknown). Throws when a local delivery failed: the caller retries later.
     */
    public boolean deliver(String queueId) throws IOException {
        return run(queueId) == Result.REMOVED;
    }

    /** Whether outbound delivery is the one to take this recipient (its domain is not ours). */
    public boolean isRemote(Address recipient) {
        return !local.isLocalDomain(recipient.domain());
    }

    /** As {@link #deliver}, saying what is left. Throws when a local delivery failed: the caller retries later. */
    public Result run(String queueId) throws IOException {
        Envelope envelope;
        try {
            envelope = spool.envelope(queueId);
        } catch (NoSuchFileException gone) {
            // Removed since it was listed (delivered by an earlier submission): nothing left to do, and
            // retrying would never succeed.
            LOG.info(() -> queueId + ": no longer queued");
            return Result.REMOVED;
        }
        String held = spool.heldReason(queueId);
        if (held != null) {
            LOG.fine(() -> queueId + ": on hold (" + held + "), not delivered");
            return Result.HELD;
        }
        Set<Address> done = spool.done(queueId);
        Map<String, Path> deliveredTo = new HashMap<>();   // mailbox -> file, this run only
        boolean pending = false;
        boolean remote = false;
        IOException failure = null;

        // The last recipient left needs no done record when the message is then removed at once (a crash in
        // between delivers it again: a duplicate, as with any crash before the record is forced). One
        // record fewer is two fsyncs fewer for the common single-recipient message.
        long left = envelope.recipients().stream().filter(r -> !done.contains(r)).count();
        for (Address rcpt : envelope.recipients()) {
            if (done.contains(rcpt)) continue;
            if (!local.isLocalDomain(rcpt.domain())) {
                LOG.fine(() -> queueId + ": to=" + rcpt + " awaiting outbound delivery"); // every rescan: not INFO
                remote = true;
                continue;
            }
            Optional<List<String>> mailboxes = local.mailboxesFor(rcpt);
            if (mailboxes.isEmpty() || mailboxes.get().isEmpty() || !mailboxes.get().stream().allMatch(MAILBOX.asMatchPredicate())) {
                // RCPT refused unknown addresses, so the configuration changed since, or is wrong. We keep
                // the recipient rather than mark it done: dropping it would be a silent loss, while a kept
                // one is visible in the queue and will be bounced when outbound delivery and its queue
                // lifetime arrive, or delivered if the address comes back.
                LOG.warning(() -> queueId + ": to=" + rcpt + " mailbox=" + mailboxes.map(String::valueOf).orElse("none")
                        + " result=kept: no valid local mailbox for this address");
                pending = true;
                continue;
            }
            try {
                for (String mailbox : mailboxes.get()) deliverOnce(envelope, rcpt, mailbox, deliveredTo);
                if (left > 1) spool.markDone(queueId, rcpt);
            } catch (IOException e) {
                // Go on with the other recipients: one broken mailbox must not hold up the rest.
                LOG.log(Level.WARNING, queueId + ": to=" + rcpt + " result=deferred: " + e, e);
                if (failure == null) failure = new IOException(queueId + ": local delivery failed", e);
                else failure.addSuppressed(e);
            }
        }
        if (failure != null) throw failure;
        if (remote) return Result.REMOTE_PENDING;
        if (pending) return Result.KEPT;
        spool.remove(queueId);
        LOG.info(() -> queueId + ": all recipients done, removed from the queue");
        return Result.REMOVED;
    }

    private void deliverOnce(Envelope envelope, Address rcpt, String mailbox, Map<String, Path> deliveredTo)
            throws IOException {
        String id = envelope.queueId();
        Path earlier = deliveredTo.get(mailbox);
        if (earlier != null) {
            LOG.info(() -> id + ": to=" + rcpt + " mailbox=" + mailbox + " result=delivered (same copy as " + earlier.getFileName() + ")");
            return;
        }
        if (discard) {
            deliveredTo.put(mailbox, Path.of("discarded"));
            LOG.info(() -> id + ": to=" + rcpt + " mailbox=" + mailbox + " result=discarded");
            return;
        }
        Maildir maildir = new Maildir(mailRoot.resolve(mailbox), hostname);
        Path file;
        try (InputStream content = spool.content(id)) {
            file = maildir.deliver(envelope.sender(), rcpt, content);
        }
        deliveredTo.put(mailbox, file);
        LOG.info(() -> id + ": to=" + rcpt + " mailbox=" + mailbox + " result=delivered " + file.getFileName());
    }
}
