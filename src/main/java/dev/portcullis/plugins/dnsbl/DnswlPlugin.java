package dev.portcullis.plugins.dnsbl;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.PreConnectHook;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import java.time.Duration;
import java.util.List;

/**
 * DNS allowlists (RFC 5782 DNSWLs) through the same machinery as {@link DnsblPlugin}: zones asked at
 * pre_connect, joined at connect. A client listed by any entry gets the {@link CheckPolicy#ALLOWLISTED}
 * session note, which every stranger check (dnsbl, fcrdns, greylisting, ...) honours from then on, and a
 * pass with the sum of the listing entries' weights, negative, lowering the karma score.
 *
 * <p>It never refuses and never accepts on its own (it always declines), so it must come before the checks
 * it should exempt clients from in the chain: connect hooks run in configuration order.
 */
public final class DnswlPlugin implements PreConnectHook, ConnectHook {
    static final String NAME = "dnswl";

    private final NoteKey<ZoneChecker.Pending> pendingKey = NoteKey.of("dnswl-pending", ZoneChecker.Pending.class);
    private final boolean off;
    private final CheckPolicy trace;
    private final ZoneChecker checker;

    DnswlPlugin(boolean off, ZoneChecker checker) {
        this.off = off;
        this.checker = checker;
        // only pass and skip are used: the action is never applied
        this.trace = new CheckPolicy(NAME, Action.FLAG, 0, false);
    }

    @Override public String name() { return NAME; }

    @Override public void onPreConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (off || CheckPolicy.exempt(session)) return;
        session.notes().put(pendingKey, checker.start(session.remoteAddress()));
    }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (off) return HookResult.declined();
        var pending = session.notes().get(pendingKey);
        if (pending.isEmpty()) return HookResult.declined();
        session.notes().remove(pendingKey);
        if (CheckPolicy.exempt(session)) return HookResult.declined();

        ZoneChecker.Result result = checker.join(pending.get());
        for (String s : result.skipped()) trace.skip(session, "connect", s);
        if (result.listings().isEmpty()) {
            if (result.skipped().size() < result.zones()) trace.pass(session, "connect", "not listed", 0);
            return HookResult.declined();
        }
        String listed = result.describeListings();
        session.notes().put(CheckPolicy.ALLOWLISTED, NAME + ": " + listed);
        trace.pass(session, "connect", "allowlisted: " + listed, result.weight());
        return HookResult.declined();
    }

    /** Found by ServiceLoader under the name "dnswl". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            boolean off = settings.choice("action", "allow", "allow", "off").equals("off");
            double score = settings.number("score", -5.0);
            if (score > 0) throw settings.error("score", "an allowlist lowers the score: use 0 or a negative number");
            List<ZoneSpec> specs = DnsblPlugin.zones(settings, !off);
            for (ZoneSpec s : specs)
                if (s.weight() != null && s.weight() > 0)
                    throw settings.error("zones", "\"" + s.text() + "\": an allowlist weight must be 0 or negative");
            Duration timeout = DnsblPlugin.timeout(settings);
            boolean checkZones = settings.bool("check_zones", true);
            ZoneHealth health = new ZoneHealth(NAME, services.dns(), services.clock(), checkZones);
            return new DnswlPlugin(off, new ZoneChecker(specs, score, services.dns(), health, false, timeout));
        }
    }
}
