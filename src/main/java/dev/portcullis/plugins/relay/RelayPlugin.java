package dev.portcullis.plugins.relay;

import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ServerServices;

/**
 * Lets trusted clients send to any domain: clients in the configured relay networks and authenticated
 * users. Everyone else gets no opinion from it, and the chain's default refuses what nobody vouched for
 * (550 5.7.1): never an open relay. Put it after "rcpt", so trusted clients still get 5.1.1 for unknown
 * local users instead of a bounce later.
 */
public final class RelayPlugin implements RcptHook {

    @Override public String name() { return "relay"; }

    @Override public HookResult onRcpt(RcptContext ctx) {
        if (ctx.session().authenticatedUser().isPresent()) return HookResult.ok("authenticated");
        if (ctx.session().relayClient()) return HookResult.ok("relay network");
        return HookResult.declined();
    }

    /** Found by ServiceLoader under the name "relay". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "relay"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) { return new RelayPlugin(); }
    }
}
