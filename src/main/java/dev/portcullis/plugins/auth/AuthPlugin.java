package dev.portcullis.plugins.auth;

import dev.portcullis.accounts.Account;
import dev.portcullis.accounts.Accounts;
import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.hook.AuthContext;
import dev.portcullis.hook.AuthHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.ServerServices;
import java.util.Locale;
import java.util.Optional;

/**
 * SMTP AUTH against the accounts, and the rules for authenticated senders. The password check and its
 * brute-force defence are the {@link LoginGuard} every protocol shares ([login] in the configuration); a
 * locked-out client gets 421 4.7.0 and is disconnected. An authenticated user may use as MAIL FROM only the
 * addresses of their account (configurable), and a held account may not submit at all.
 */
public final class AuthPlugin implements AuthHook, MailHook {
    enum SenderCheck { ENFORCE, WARN, OFF }

    private final Accounts accounts;
    private final LoginGuard guard;
    private final SenderCheck senderCheck;

    AuthPlugin(Accounts accounts, LoginGuard guard, SenderCheck senderCheck) {
        this.accounts = accounts;
        this.guard = guard;
        this.senderCheck = senderCheck;
    }

    @Override public String name() { return "auth"; }

    @Override public HookResult onAuth(AuthContext ctx) {
        String name = ctx.username().toLowerCase(Locale.ROOT);
        LoginGuard.Verdict v = guard.login(ctx.session().remoteAddress().getHostAddress(), name, ctx.password().toCharArray());
        return switch (v) {
            case OK -> {
                ctx.session().trace().add(name(), "auth", "ok", "authenticated as " + name);
                yield HookResult.ok("authenticated as " + name);
            }
            case CLIENT_LOCKED -> {
                ctx.session().trace().add(name(), "auth", "deny", "client locked out after failed logins");
                yield HookResult.denySoftAndDisconnect(421, "4.7.0", "Error: too many failed logins, try again later");
            }
            case ACCOUNT_LOCKED, BAD_CREDENTIALS -> {
                ctx.session().trace().add(name(), "auth", "deny",
                        (v == LoginGuard.Verdict.ACCOUNT_LOCKED ? "account locked out" : "bad credentials") + " for " + name);
                yield HookResult.deny(535, "5.7.8", "Error: authentication credentials invalid");
            }
        };
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
            SenderCheck check = SenderCheck.valueOf(settings.choice("sender_check", "enforce", "enforce", "warn", "off")
                    .toUpperCase(Locale.ROOT));
            return new AuthPlugin(services.accounts(), services.loginGuard(), check);
        }
    }
}
