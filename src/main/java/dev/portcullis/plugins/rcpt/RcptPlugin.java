package dev.portcullis.plugins.rcpt;

import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ServerServices;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Recipient validation for local domains: a known mailbox or alias is accepted, an unknown one refused
 * with 550 5.1.1 at RCPT time (no accept-then-bounce backscatter). Other domains are not its business:
 * it declines, and the relay plugin or the chain's default (refuse) decides. A session that names too
 * many unknown recipients is probing for addresses (a dictionary attack) and is closed with 421 4.7.0.
 */
public final class RcptPlugin implements RcptHook {
    private static final NoteKey<AtomicInteger> UNKNOWN = NoteKey.of("rcpt.unknown", AtomicInteger.class);

    private final LocalRecipients local;
    private final int maxUnknown;

    RcptPlugin(LocalRecipients local, int maxUnknown) {
        this.local = local;
        this.maxUnknown = maxUnknown;
    }

    @Override public String name() { return "rcpt"; }

    @Override public HookResult onRcpt(RcptContext ctx) {
        if (!local.isLocalDomain(ctx.recipient().domain())) return HookResult.declined();
        if (local.mailboxesFor(ctx.recipient()).isPresent()) return HookResult.ok("local mailbox");
        int unknown = ctx.session().notes().computeIfAbsent(UNKNOWN, AtomicInteger::new).incrementAndGet();
        if (maxUnknown > 0 && unknown >= maxUnknown) {
            ctx.session().trace().add(name(), "rcpt", "disconnect", unknown + " unknown recipients: dictionary attack");
            return HookResult.denySoftAndDisconnect(421, "4.7.0", "Error: too many unknown recipients, closing connection");
        }
        ctx.session().trace().add(name(), "rcpt", "deny", "unknown local recipient " + ctx.recipient().path());
        return HookResult.deny(550, "5.1.1", "Error: recipient address rejected: user unknown");
    }

    /** Found by ServiceLoader under the name "rcpt". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "rcpt"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            long max = settings.integer("max_unknown_recipients", 10);
            if (max < 0) throw settings.error("max_unknown_recipients", "must be 0 (off) or more");
            return new RcptPlugin(services.localRecipients(), (int) max);
        }
    }
}
