package dev.portcullis.pop3;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One POP3 session per mailbox at a time (RFC 1939 section 8: the server must lock the maildrop, or two
 * sessions' UPDATEs would fight over the same messages). The second login gets {@code -ERR [IN-USE]}
 * (RFC 2449 section 8.1.2). The locks live in this process: they exclude every POP3 session of this server,
 * on all its listeners; other programs reading the same Maildir (Dovecot, mutt) need no lock, because
 * Maildir renames are atomic and every message is found again by its unique name.
 */
final class MailboxLocks {
    private final Set<String> held = ConcurrentHashMap.newKeySet();

    /** The lock on {@code mailbox}, or null when another session holds it. */
    Lease tryLock(String mailbox) {
        return held.add(mailbox) ? new Lease(mailbox) : null;
    }

    /** A held lock; closing it twice is harmless. */
    final class Lease implements AutoCloseable {
        private final String mailbox;
        private boolean released;

        private Lease(String mailbox) { this.mailbox = mailbox; }

        @Override public synchronized void close() {
            if (released) return;
            released = true;
            held.remove(mailbox);
        }
    }
}
