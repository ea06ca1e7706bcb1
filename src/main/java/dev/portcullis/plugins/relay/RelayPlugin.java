package dev.portcullis.plugins.relay;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;

/**
 * Relay control: who may send to which domain. Never an open relay.
 *
 * The decision is taken on the address as delivery would use it. Addressing tricks that route mail
 * somewhere else than the domain after the last '@' — the percent hack ({@code user%other@here}), bang paths
 * ({@code other!user@here}), quoted local parts hiding '@' or '%', source routes ({@code @a,@b:user@c}) and
 * bracketed IP literals — are refused outright (550 5.7.1) for untrusted clients, before anything else
 * looks at them; double '@' never gets past the path parser (501). For a local domain it then declines,
 * leaving the mailbox to the "rcpt" plugin; for any other domain it accepts trusted clients (authenticated
 * or in a relay network) and refuses everyone else. The null sender never relays unless configured.
 */
public final class RelayPlugin implements RcptHook {
    private final LocalRecipients local;
    private final boolean nullSenderRelay;

    RelayPlugin(LocalRecipients local, boolean nullSenderRelay) {
        this.local = local;
        this.nullSenderRelay = nullSenderRelay;
    }

    @Override public String name() { return "relay"; }

    @Override public HookResult onRcpt(RcptContext ctx) {
        Address rcpt = ctx.recipient();
        boolean trusted = trusted(ctx.session());
        String trick = trick(rcpt);
        if (trick != null && !trusted) {
            ctx.session().trace().add(name(), "rcpt", "deny", trick + " in " + rcpt.path());
            return HookResult.deny(550, "5.7.1", "Error: relay access denied");
        }
        if (local.isLocalDomain(rcpt.domain())) return HookResult.declined();
        if (ctx.tx().sender().isNull() && !nullSenderRelay) {
            ctx.session().trace().add(name(), "rcpt", "deny", "null sender may not relay to " + rcpt.domain());
            return HookResult.deny(550, "5.7.1", "Error: relay access denied");
        }
        if (trusted) return HookResult.ok(ctx.session().authenticatedUser().isPresent() ? "authenticated" : "relay network");
        ctx.session().trace().add(name(), "rcpt", "deny", "not local and client not trusted: " + rcpt.domain());
        return HookResult.deny(550, "5.7.1", "Error: relay access denied");
    }

    private static boolean trusted(Session s) {
        return s.authenticatedUser().isPresent() || s.relayClient();
    }

    /** The routing trick this address uses, or null for a plain mailbox. */
    static String trick(Address a) {
        String localPart = a.localPart();
        if (a.raw().startsWith("@")) return "source route";
        if (a.domain().startsWith("[")) return "IP literal";
        if (localPart.startsWith("\"") && (localPart.contains("@") || localPart.contains("%") || localPart.contains("!")))
            return "quoted local part with routing characters";
        if (localPart.contains("%")) return "percent hack";
        if (localPart.contains("!")) return "bang path";
        if (localPart.contains("@")) return "'@' in local part";
        return null;
    }

    /** Found by ServiceLoader under the name "relay". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "relay"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            return new RelayPlugin(services.localRecipients(), settings.bool("null_sender_relay", false));
        }
    }
}
