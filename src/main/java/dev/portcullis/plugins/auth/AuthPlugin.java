package dev.portcullis.plugins.auth;

import dev.portcullis.accounts.Account;
import dev.portcullis.accounts.Accounts;
import dev.portcullis.hook.AuthContext;
import dev.portcullis.hook.AuthHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.StateStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * SMTP AUTH against the accounts, with brute-force defence, and the rules for authenticated senders.
 *
 * Invariants: an unknown user and a wrong password get the same reply after the same delay (the accounts
 * spend one hash either way), so a guesser learns nothing about which names exist. Failures are counted per
 * client IP and per account in a window; at the limit the IP is locked out (421 4.7.0, disconnected) and so
 * is the account (every login to it fails, whatever the password, until the lockout ends or an administrator
 * runs {@code portcullis user release}). An authenticated user may use as MAIL FROM only the addresses of
 * their account (configurable), and a held account may not submit at all.
 */
public final class AuthPlugin implements AuthHook, MailHook {
    private static final Logger LOG = Logger.getLogger("portcullis.auth");
    /** Shared with {@code portcullis user list/release}: key = account name, value = ISO-8601 end of lockout. */
    public static final String ACCOUNT_LOCKOUT = "auth-lockout";
    static final String IP_LOCKOUT = "auth-lockout-ip";
    static final String IP_FAILURES = "auth-fail-ip";
    static final String ACCOUNT_FAILURES = "auth-fail-user";

    enum SenderCheck { ENFORCE, WARN, OFF }

    private final Accounts accounts;
    private final StateStore store;
    private final Clock clock;
    private final int maxFailures;
    private final Duration window;
    private final Duration lockout;
    private final Duration failureDelay;
    private final SenderCheck senderCheck;

    AuthPlugin(Accounts accounts, StateStore store, Clock clock, int maxFailures, Duration window, Duration lockout,
               Duration failureDelay, SenderCheck senderCheck) {
        this.accounts = accounts;
        this.store = store;
        this.clock = clock;
        this.maxFailures = maxFailures;
        this.window = window;
        this.lockout = lockout;
        this.failureDelay = failureDelay;
        this.senderCheck = senderCheck;
    }

    @Override public String name() { return "auth"; }

    @Override public HookResult onAuth(AuthContext ctx) {
        String ip = ctx.session().remoteAddress().getHostAddress();
        String name = ctx.username().toLowerCase(Locale.ROOT);
        if (lockedUntil(IP_LOCKOUT, ip).isPresent()) {
            pause();
            ctx.session().trace().add(name(), "auth", "deny", "client locked out after failed logins");
            return HookResult.denySoftAndDisconnect(421, "4.7.0", "Error: too many failed logins, try again later");
        }
        boolean good = accounts.verify(name, ctx.password().toCharArray());
        if (good && lockedUntil(ACCOUNT_LOCKOUT, name).isEmpty()) {
            ctx.session().trace().add(name(), "auth", "ok", "authenticated as " + name);
            return HookResult.ok("authenticated as " + name);
        }
        pause();
        String why = good ? "account locked out" : "bad credentials";
        countFailure(ip, name);
        ctx.session().trace().add(name(), "auth", "deny", why + " for " + name);
        return HookResult.deny(535, "5.7.8", "Error: authentication credentials invalid");
    }

    private void countFailure(String ip, String name) {
        long byIp = store.increment(IP_FAILURES, ip, 1, window);
        Instant until = clock.instant().plus(lockout);
        if (byIp >= maxFailures && lockedUntil(IP_LOCKOUT, ip).isEmpty()) {
            store.put(IP_LOCKOUT, ip, until.toString(), lockout);
            LOG.warning(() -> "auth lockout client=" + ip + " failures=" + byIp + " until=" + until);
        }
        if (accounts.find(name).isEmpty()) return; // no lockout records for names that do not exist
        long byAccount = store.increment(ACCOUNT_FAILURES, name, 1, window);
        if (byAccount >= maxFailures && lockedUntil(ACCOUNT_LOCKOUT, name).isEmpty()) {
            store.put(ACCOUNT_LOCKOUT, name, until.toString(), lockout);
            LOG.warning(() -> "auth lockout account=" + name + " failures=" + byAccount + " until=" + until);
        }
    }

    private Optional<Instant> lockedUntil(String namespace, String key) {
        return store.get(namespace, key).map(Instant::parse).filter(t -> t.isAfter(clock.instant()));
    }

    /** The same wait after every failure, so timing tells nothing either. */
    private void pause() {
        if (failureDelay.isZero()) return;
        try {
            Thread.sleep(failureDelay);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override public HookResult onMail(MailContext ctx) {
        Optional<String> user = ctx.session().authenticatedUser();
        if (user.isEmpty()) return HookResult.declined();
        Optional<Account> account = accounts.find(user.get());
        if (account.isEmpty()) return HookResult.denySoft(451, "4.7.1", "Error: account not available"); // deleted meanwhile
        if (account.get().held()) {
            ctx.session().trace().add(name(), "mail", "deny", "account " + user.get() + " is held: " + account.get().heldReason());
            return HookResult.deny(554, "5.7.1", "Error: account held for review; contact the postmaster");
        }
        if (senderCheck == SenderCheck.OFF || ctx.sender().isNull()) return HookResult.declined();
        String from = ctx.sender().mailbox().toLowerCase(Locale.ROOT);
        boolean owned = account.get().addresses().stream().anyMatch(a -> a.equalsIgnoreCase(from));
        if (owned) return HookResult.declined();
        String why = user.get() + " does not own " + ctx.sender().path();
        if (senderCheck == SenderCheck.WARN) {
            ctx.session().trace().add(name(), "mail", "warn", why);
            return HookResult.declined();
        }
        ctx.session().trace().add(name(), "mail", "deny", why);
        return HookResult.deny(553, "5.7.1", "Error: sender address not owned by the authenticated user");
    }

    /** Found by ServiceLoader under the name "auth". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "auth"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            long max = settings.integer("max_failures", 5);
            if (max < 1 || max > 1000) throw settings.error("max_failures", "expected a whole number from 1 to 1000");
            Duration window = settings.duration("failure_window", Duration.ofMinutes(15));
            Duration lockout = settings.duration("lockout", Duration.ofMinutes(15));
            Duration delay = settings.duration("failure_delay", Duration.ofSeconds(2));
            if (window.isZero() || lockout.isZero()) throw settings.error("lockout", "failure_window and lockout must be longer than zero");
            SenderCheck check = SenderCheck.valueOf(settings.choice("sender_check", "enforce", "enforce", "warn", "off")
                    .toUpperCase(Locale.ROOT));
            return new AuthPlugin(services.accounts(), services.store(), services.clock(), (int) max, window, lockout, delay, check);
        }
    }
}
