package dev.portcullis.outbound;

import dev.portcullis.hook.Address;

/**
 * What happened to one recipient on one delivery attempt, in the terms of RFC 3464 2.3: the action
 * (delivered, failed, delayed), the status code (RFC 3463, e.g. 5.1.1), the remote MTA that answered (or
 * null), and the diagnostic: the remote's reply as received ("smtp; 550 5.1.1 no such user"), or our own
 * words for failures without a reply (connection refused, no MX). Text from the remote is untrusted.
 */
public record RecipientOutcome(Address recipient, Action action, String status, String remoteMta, String diagnostic) {
    public enum Action { DELIVERED, FAILED, DELAYED }
}
