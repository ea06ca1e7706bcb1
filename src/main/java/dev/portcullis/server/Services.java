package dev.portcullis.server;

import dev.portcullis.accounts.Accounts;
import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.StateStore;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.QueueIds;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.logging.Logger;

/** What the server lends its plugins. The queue operations go through the spool, like everything else. */
record Services(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients, Dns dns, StateStore store,
                Accounts accounts, LoginGuard loginGuard, Spool spool, Consumer<String> queued, String postmasterDomain)
        implements ServerServices {
    private static final Logger LOG = Logger.getLogger("portcullis.server");
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);

    @Override public int holdQueuedMail(String authUser, String reason) {
        int held = 0;
        try {
            for (String id : spool.list()) {
                Envelope e;
                try {
                    e = spool.envelope(id);
                } catch (java.nio.file.NoSuchFileException delivered) {
                    continue;
                }
                if (authUser.equals(e.authUser()) && spool.heldReason(id) == null) {
                    spool.hold(id, reason);
                    held++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return held;
    }

    /** From the null sender (RFC 3464 practice for machine mail: nothing may bounce back) to postmaster. */
    @Override public void notifyPostmaster(String subject, String body) {
        String id = QueueIds.next();
        Address postmaster = Address.of("postmaster", postmasterDomain);
        String text = "From: Portcullis <postmaster@" + postmasterDomain + ">\r\n"
                + "To: " + postmaster.mailbox() + "\r\n"
                + "Subject: " + subject.replaceAll("[\\r\\n]+", " ") + "\r\n"
                + "Date: " + ZonedDateTime.now(clock).format(DATE) + "\r\n"
                + "Message-ID: <" + id + "@" + hostname + ">\r\n"
                + "Auto-Submitted: auto-generated\r\n"
                + "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "\r\n"
                + body.replaceAll("\r?\n", "\r\n").replaceAll("(?m)^\\.", "..") + (body.endsWith("\n") ? "" : "\r\n");
        Envelope envelope = new Envelope(id, Address.NULL_SENDER, List.of(postmaster), clock.instant(), "127.0.0.1",
                hostname, null, Map.of());
        try {
            spool.store(envelope, List.of(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LOG.info(() -> "notice queue_id=" + id + " to=" + postmaster + " subject=\"" + subject + "\"");
        queued.accept(id);
    }
}
