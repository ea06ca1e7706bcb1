package dev.portcullis.hook;

import java.nio.file.Path;
import java.time.Clock;

/** What the server lends plugins: pass these in, never reach for globals (DESIGN habit 6). */
public interface ServerServices {
    Clock clock();
    /** This server's own name, as in the greeting. */
    String hostname();
    /** The folder where a plugin may keep state, one subfolder per plugin. */
    Path dataDir();
    /** The local domains and mailboxes. */
    LocalRecipients localRecipients();
    /** The configured resolver, with its cache. */
    dev.portcullis.dns.Dns dns();
    /** Shared state that survives a restart. */
    StateStore store();
    /** Puts every queued message submitted by {@code authUser} on hold; returns how many. */
    default int holdQueuedMail(String authUser, String reason) {
        throw new UnsupportedOperationException("no queue in this environment");
    }

    /** Queues a short plain-text message from the mail system to the local postmaster. */
    default void notifyPostmaster(String subject, String body) {
        throw new UnsupportedOperationException("no queue in this environment");
    }

    /** Password checks with the shared brute-force lockout ([login] settings). */
    default dev.portcullis.accounts.LoginGuard loginGuard() {
        throw new UnsupportedOperationException("no accounts in this environment");
    }

    /** The accounts of the people who send and read mail here (none in a bare plugin test). */
    default dev.portcullis.accounts.Accounts accounts() {
        throw new UnsupportedOperationException("no accounts in this environment");
    }
}
