package dev.portcullis.plugins.earlytalker;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The pregreet test (qpsmtpd's earlytalker, Postfix postscreen's pregreet): RFC 5321 4.3.1 has the client
 * wait for the 220 greeting, and ratware that fires its commands at once gives itself away. The plugin
 * holds the greeting back for a while and watches the connection; optionally it does the same before the
 * 354 that invites the message content.
 *
 * Invariants:
 * - A refusal always closes the connection: what the client sent early is in our input buffer and would
 *   otherwise be read as commands (or, before 354, the content as commands).
 * - The wait depends on the decision trace's score so far, so the checks ordered before this plugin
 *   (dnswl, dnsbl, fcrdns) can shorten or lengthen it; a client a DNSWL vouched for is exempt.
 */
public final class EarlytalkerPlugin implements ConnectHook, DataHook {
    static final String NAME = "earlytalker";

    /** How long to wait for a session whose score so far is {@code score}. */
    record Delays(Duration normal, double goodScore, Duration good, double badScore, Duration bad) {
        Duration forScore(double score) {
            if (score <= goodScore) return good;
            if (score >= badScore) return bad;
            return normal;
        }
    }

    private final CheckPolicy policy;
    private final Delays delays;
    private final Duration dataDelay;
    private final Set<String> roles;
    private final Reply connectReply;
    private final Reply dataReply;

    EarlytalkerPlugin(CheckPolicy policy, Delays delays, Duration dataDelay, Set<String> roles, boolean tempfailReply) {
        this.policy = policy;
        this.delays = delays;
        this.dataDelay = dataDelay;
        this.roles = Set.copyOf(roles);
        this.connectReply = tempfailReply
                ? new Reply(421, "4.7.0", "Error: protocol violation: talked before the greeting; closing connection")
                : new Reply(554, "5.5.0", "Error: protocol violation: talked before the greeting");
        this.dataReply = tempfailReply
                ? new Reply(421, "4.7.0", "Error: protocol violation: sent data before the 354 reply; closing connection")
                : new Reply(554, "5.5.0", "Error: protocol violation: sent data before the 354 reply");
    }

    @Override public String name() { return NAME; }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off()) return HookResult.declined();
        if (!roles.contains(session.listenerRole())) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();

        double score = session.trace().score();
        Duration wait = delays.forScore(score);
        String why = "waited " + human(wait) + (score == 0 ? "" : " at score " + score);
        if (session.clientTalksWithin(wait))
            return closing(policy.fail(session, "connect", connectReply, "talked before the greeting (" + why + ")"));
        policy.pass(session, "connect", "silent before the greeting (" + why + ")", 0);
        return HookResult.declined();
    }

    @Override public HookResult onData(DataContext ctx) {
        Session session = ctx.session();
        if (policy.off() || dataDelay.isZero() || ctx.chunked()) return HookResult.declined(); // BDAT content follows at once
        if (!roles.contains(session.listenerRole())) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();

        String why = "waited " + human(dataDelay);
        if (session.clientTalksWithin(dataDelay))
            return closing(policy.fail(session, "data", dataReply, "sent data before the 354 reply (" + why + ")"));
        policy.pass(session, "data", "silent before the 354 reply (" + why + ")", 0);
        return HookResult.declined();
    }

    /** A refusal of an early talker ends the session: the rest of what it sent is not worth parsing. */
    private static HookResult closing(HookResult r) {
        return switch (r) {
            case HookResult.Deny d -> new HookResult.Deny(d.reply(), true);
            case HookResult.DenySoft d -> new HookResult.DenySoft(d.reply(), true);
            case HookResult.Declined d -> d;
            case HookResult.Ok ok -> ok;
        };
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    /** Found by ServiceLoader under the name "earlytalker". */
    public static final class Factory implements PluginFactory {
        static final Set<String> ROLES = Set.of("mx", "submission", "submissions");
        static final Duration DEFAULT_DELAY = Duration.ofSeconds(5);

        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            CheckPolicy policy = CheckPolicy.read(settings, NAME, Action.REJECT, 5, false);
            long code = settings.integer("reply_code", 554);
            if (code != 554 && code != 421) throw settings.error("reply_code", "expected 554 or 421, not " + code);
            Duration delay = settings.duration("delay", DEFAULT_DELAY);
            double goodScore = settings.number("good_score", -1);
            Duration goodDelay = settings.duration("good_delay", Duration.ZERO);
            double badScore = settings.number("bad_score", 3);
            Duration badDelay = settings.duration("bad_delay", delay.multipliedBy(2));
            if (goodScore >= badScore)
                throw settings.error("good_score", "must be lower than bad_score (" + badScore + ")");
            Duration dataDelay = settings.duration("data_delay", Duration.ZERO);
            List<String> roles = settings.strings("roles", List.of("mx"));
            for (String r : roles)
                if (!ROLES.contains(r)) throw settings.error("roles", "expected listener roles among mx, submission, submissions, not \"" + r + "\"");
            boolean tempfail = code == 421 || policy.action() == Action.TEMPFAIL;
            return new EarlytalkerPlugin(policy, new Delays(delay, goodScore, goodDelay, badScore, badDelay),
                    dataDelay, Set.copyOf(roles), tempfail);
        }
    }
}
