package dev.portcullis.accounts;

import java.time.Instant;
import java.util.List;

/**
 * One account. {@code name} is also its mailbox name (data_dir/mail/&lt;name&gt;/); {@code addresses} are the
 * full addresses that deliver to it and that it may use as MAIL FROM; {@code heldReason} is null unless held.
 */
public record Account(String name, String passwordHash, List<String> addresses, String heldReason, Instant created) {
    public Account {
        addresses = List.copyOf(addresses);
    }

    public boolean held() { return heldReason != null; }
}
