package dev.portcullis.hook;

import java.util.List;
import java.util.Optional;

/** Which domains are ours, and which addresses in them have a mailbox. */
public interface LocalRecipients {
    boolean isLocalDomain(String domain);

    /**
     * The mailboxes an address delivers to (aliases expanded), or empty when the address is local
     * but unknown. Only meaningful for local domains.
     */
    Optional<List<String>> mailboxesFor(Address address);
}
