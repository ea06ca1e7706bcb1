package dev.portcullis.plugins.rcpt;

import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ServerServices;

/**
 * Recipient validation for local domains: a known mailbox or alias is accepted, an unknown one refused
 * with 550 5.1.1 at RCPT time (no accept-then-bounce backscatter). Other domains are not its business:
 * it declines, and the relay plugin or the chain's default (refuse) decides.
 */
public final class RcptPlugin implements RcptHook {
    private final LocalRecipients local;

    RcptPlugin(LocalRecipients local) { this.local = local; }

    @Override public String name() { return "rcpt"; }

    @Override public HookResult onRcpt(RcptContext ctx) {
        if (!local.isLocalDomain(ctx.recipient().domain())) return HookResult.declined();
        if (local.mailboxesFor(ctx.recipient()).isPresent()) return HookResult.ok("local mailbox");
        return HookResult.deny(550, "5.1.1", "Error: recipient address rejected: user unknown");
    }

    /** Found by ServiceLoader under the name "rcpt". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "rcpt"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            return new RcptPlugin(services.localRecipients());
        }
    }
}
