package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Who a stored message is from and for, and how it came in. This, the queue id and the content are all
 * that the SMTP side hands to delivery (Postfix's rule: components share queue ids and recipients).
 */
public record Envelope(
        String queueId,
        Address sender,
        List<Address> recipients,
        Instant received,
        String clientAddress,
        String helo,
        String authUser, // the authenticated user, or null
        Map<String, String> mailParameters) { // MAIL FROM parameters, upper-case keys

    public Envelope {
        recipients = List.copyOf(recipients);
        mailParameters = Map.copyOf(mailParameters);
    }
}
