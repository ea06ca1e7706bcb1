package dev.portcullis.outbound;

import dev.portcullis.queue.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;

/**
 * Delivery status notifications (RFC 3464): a multipart/report message from the null sender telling the
 * original sender what happened to some recipients. Contract shared by the delivery engine (which decides
 * when to bounce or warn) and the builder (which writes the message).
 */
public interface Dsn {
    /**
     * Builds the complete message (header and body, CRLF lines) of a DSN for {@code outcomes} (all FAILED,
     * or all DELAYED for a delay warning) of the message {@code original}, whose content is read from
     * {@code originalContent} (the header is quoted; the body is not). The envelope to send it with is
     * {@code <>} to {@code original.sender()}; never call this for a message whose sender is null.
     */
    byte[] build(String reportingMta, Envelope original, List<RecipientOutcome> outcomes, InputStream originalContent,
                 Instant now) throws IOException;
}
