package dev.portcullis.accounts;

import java.util.List;
import java.util.Optional;

/**
 * The people who own mailboxes here: their password hashes, addresses and standing. Changes made by the
 * {@code portcullis user} command are seen by the running server at once (no restart).
 * Thread-safe; every method may be called from any session's thread.
 */
public interface Accounts {
    Optional<Account> find(String name);

    /** The account owning this address (case-insensitive), if any. */
    Optional<Account> byAddress(String address);

    List<Account> list();

    /** Creates an account; fails if the name exists or an address belongs to someone else. */
    void add(String name, char[] password, List<String> addresses);

    void setPassword(String name, char[] password);

    void setAddresses(String name, List<String> addresses);

    void delete(String name);

    /** Holds or releases an account: a held account may not submit mail, and its queued mail waits. */
    void setHeld(String name, String reason);

    void release(String name);

    /** True when the password matches (constant-time compare; also spends the same time for unknown names). */
    boolean verify(String name, char[] password);
}
