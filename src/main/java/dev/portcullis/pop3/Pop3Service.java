package dev.portcullis.pop3;

import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.config.Config;
import java.nio.file.Path;

/**
 * What every POP3 session of a server shares, whichever listener accepted it: the [pop3] settings, the login
 * guard (the same brute-force counts as SMTP AUTH), where the Maildirs are, and the mailbox locks.
 */
public final class Pop3Service {
    private final String hostname;
    private final Config.Pop3 settings;
    private final Path mailDir;
    private final LoginGuard guard;
    private final MailboxLocks locks = new MailboxLocks();

    /** The service for {@code config}: its hostname, [pop3] settings and data_dir/mail/. */
    public Pop3Service(Config config, LoginGuard guard) {
        this(config.hostname(), config.pop3(), config.mailDir(), guard);
    }

    Pop3Service(String hostname, Config.Pop3 settings, Path mailDir, LoginGuard guard) {
        this.hostname = hostname;
        this.settings = settings;
        this.mailDir = mailDir;
        this.guard = guard;
    }

    String hostname() { return hostname; }

    Config.Pop3 settings() { return settings; }

    LoginGuard guard() { return guard; }

    MailboxLocks locks() { return locks; }

    /** Account "alice" reads data_dir/mail/alice/ (account names are mailbox names, see Accounts). */
    Path maildir(String account) { return mailDir.resolve(account); }
}
