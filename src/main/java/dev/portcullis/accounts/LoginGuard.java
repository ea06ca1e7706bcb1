package dev.portcullis.accounts;

import dev.portcullis.hook.StateStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Password checks with brute-force defence, shared by every protocol that logs users in (SMTP AUTH, POP3),
 * so a guesser is counted once whichever door it tries.
 *
 * Invariants: an unknown user and a wrong password give the same verdict after the same delay (the accounts
 * spend one hash either way). Failures are counted per client IP and per account within a window; at the
 * limit the IP is locked out (callers close the connection) and so is the account (every login to it fails,
 * right password or not, until the lockout ends or {@code portcullis user release} lifts it).
 */
public final class LoginGuard {
    private static final Logger LOG = Logger.getLogger("portcullis.auth");
    /** Shared with {@code portcullis user list/release}: key = account name, value = ISO-8601 end of lockout. */
    public static final String ACCOUNT_LOCKOUT = "auth-lockout";
    static final String IP_LOCKOUT = "auth-lockout-ip";
    static final String IP_FAILURES = "auth-fail-ip";
    /** Failures counted against an account; {@code portcullis user release} clears them with the lockout. */
    public static final String ACCOUNT_FAILURES = "auth-fail-user";

    public enum Verdict { OK, BAD_CREDENTIALS, ACCOUNT_LOCKED, CLIENT_LOCKED }

    /** The [login] settings. */
    public record Settings(int maxFailures, Duration window, Duration lockout, Duration failureDelay) {
        public static final Settings DEFAULT = new Settings(5, Duration.ofMinutes(15), Duration.ofMinutes(15), Duration.ofSeconds(2));
    }

    private final Accounts accounts;
    private final StateStore store;
    private final Clock clock;
    private final Settings settings;

    public LoginGuard(Accounts accounts, StateStore store, Clock clock, Settings settings) {
        this.accounts = accounts;
        this.store = store;
        this.clock = clock;
        this.settings = settings;
    }

    /** Checks a login from {@code clientIp}; every verdict but OK comes after the failure delay. */
    public Verdict login(String clientIp, String username, char[] password) {
        String name = username.toLowerCase(Locale.ROOT);
        if (lockedUntil(IP_LOCKOUT, clientIp).isPresent()) {
            pause();
            return Verdict.CLIENT_LOCKED;
        }
        boolean good = accounts.verify(name, password);
        if (good && lockedUntil(ACCOUNT_LOCKOUT, name).isEmpty()) return Verdict.OK;
        pause();
        countFailure(clientIp, name);
        return good ? Verdict.ACCOUNT_LOCKED : Verdict.BAD_CREDENTIALS;
    }

    private void countFailure(String ip, String name) {
        long byIp = store.increment(IP_FAILURES, ip, 1, settings.window());
        Instant until = clock.instant().plus(settings.lockout());
        if (byIp >= settings.maxFailures() && lockedUntil(IP_LOCKOUT, ip).isEmpty()) {
            store.put(IP_LOCKOUT, ip, until.toString(), settings.lockout());
            LOG.warning(() -> "auth lockout client=" + ip + " failures=" + byIp + " until=" + until);
        }
        if (accounts.find(name).isEmpty()) return; // no lockout records for names that do not exist
        long byAccount = store.increment(ACCOUNT_FAILURES, name, 1, settings.window());
        if (byAccount >= settings.maxFailures() && lockedUntil(ACCOUNT_LOCKOUT, name).isEmpty()) {
            store.put(ACCOUNT_LOCKOUT, name, until.toString(), settings.lockout());
            LOG.warning(() -> "auth lockout account=" + name + " failures=" + byAccount + " until=" + until);
        }
    }

    private Optional<Instant> lockedUntil(String namespace, String key) {
        return store.get(namespace, key).map(Instant::parse).filter(t -> t.isAfter(clock.instant()));
    }

    /** The same wait after every failure, so timing tells nothing either. */
    private void pause() {
        if (settings.failureDelay().isZero()) return;
        try {
            Thread.sleep(settings.failureDelay());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
