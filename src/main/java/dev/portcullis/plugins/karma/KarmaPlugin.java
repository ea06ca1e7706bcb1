package dev.portcullis.plugins.karma;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.DisconnectHook;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HeloHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.hook.StateStore;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The score model (Haraka's karma, postscreen's weighted DNSBL threshold): checks add weighted scores to the
 * session's decision trace instead of deciding alone, and karma decides once, at its configured phase, on the
 * sum — the trace's score, which includes karma's own history term.
 *
 * Invariants:
 * <ul>
 * <li>The history term is read at connect and written as one trace entry ({@code karma@connect=history}); the
 * session's outcome (good / bad / neutral) is counted per client IP at disconnect, in a fixed
 * {@code history_ttl} window of the shared {@link StateStore}.</li>
 * <li>At most one refusal per session: once the sum passes the threshold the verdict is kept in a session note
 * and repeated; at RCPT the later recipients are refused by the core through {@link DeferredRejection}, which
 * adds no trace entry and still lets postmaster@ and abuse@ through (RFC 2505 2.12).</li>
 * <li>{@link #STANDING} is published at connect (history only) and updated whenever karma judges the sum, so
 * later plugins (greylist, earlytalker) can go easier on good clients.</li>
 * </ul>
 */
public final class KarmaPlugin implements ConnectHook, HeloHook, MailHook, RcptHook, DataHook, DisconnectHook {

    /** The running verdict on this session, for other plugins to read. Absent for exempt clients and when off. */
    public static final NoteKey<Standing> STANDING = NoteKey.of("karma-standing", Standing.class);

    /** Good, neutral or bad, with the score it was judged on. */
    public enum Level {
        GOOD, NEUTRAL, BAD;

        public String label() { return name().toLowerCase(Locale.ROOT); }
    }

    /**
     * The session's standing: at connect the history term alone; once karma has judged the session at its
     * phase, the whole trace score (refused sessions are always {@link Level#BAD}).
     */
    public record Standing(double score, Level level) {
        public boolean good() { return level == Level.GOOD; }
        public boolean bad() { return level == Level.BAD; }
    }

    static final String NAME = "karma";
    static final String NAMESPACE = "karma";
    static final List<String> PHASES = List.of("connect", "helo", "mail", "rcpt", "data");
    /** |bad - good| beyond this adds nothing: five sessions are enough to know a client. */
    static final int HISTORY_CLAMP = 5;
    /** CheckPolicy verdicts that refused something; "flag", "pass", "skip" and plain hook results are not. */
    private static final Set<String> REFUSALS = Set.of("reject", "tempfail", "disconnect");

    private static final Reply REFUSED = new Reply(550, "5.7.1", "Error: refused for policy reasons");
    /** RFC 5321 3.1: a server that refuses service at connect answers 554 instead of the greeting. */
    private static final Reply REFUSED_AT_CONNECT = new Reply(554, "5.7.1", "Error: service refused for policy reasons");

    /** The session's one decision (the HookResult it answered), repeated when the phase comes again. */
    private static final NoteKey<HookResult> DECIDED = NoteKey.of("karma-decided", HookResult.class);
    /** Set when a message of this session reached the queue phase. */

    record Settings(String phase, double threshold, Duration historyTtl, double historyWeight, double goodBelow,
                    double badAbove, Set<String> historyIgnore) {}

    private final CheckPolicy policy;
    private final Settings settings;
    private final StateStore store;
    private final LocalRecipients local;

    KarmaPlugin(CheckPolicy policy, Settings settings, StateStore store, LocalRecipients local) {
        this.policy = policy;
        this.settings = settings;
        this.store = store;
        this.local = local;
    }

    @Override public String name() { return NAME; }

    // ---- connect: history and standing ------------------------------------------------------------

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off()) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();
        String ip = session.remoteAddress().getHostAddress();
        Map<String, String> history = store.getAll(NAMESPACE, List.of("good:" + ip, "bad:" + ip)); // one read
        long good = count(history.get("good:" + ip));
        long bad = count(history.get("bad:" + ip));
        double term = historyTerm(good, bad, settings.historyWeight());
        if (good + bad > 0) session.trace().add(NAME, "connect", "history", term, "good=" + good + " bad=" + bad);
        session.notes().put(STANDING, new Standing(term, level(term)));
        return decide(session, "connect");
    }

    /**
     * The history term: {@code history_weight × clamp(bad − good, −5, +5)}. Five more good sessions than bad
     * ones give −5 × weight, five more bad ones +5 × weight (the default threshold on its own).
     */
    static double historyTerm(long good, long bad, double weight) {
        long diff = Math.max(-HISTORY_CLAMP, Math.min(HISTORY_CLAMP, bad - good));
        return diff == 0 ? 0 : weight * diff;
    }

    private static long count(String value) {
        if (value == null) return 0;
        try {
            return Math.max(0, Long.parseLong(value));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    Level level(double score) {
        if (score < settings.goodBelow()) return Level.GOOD;
        if (score > settings.badAbove()) return Level.BAD;
        return Level.NEUTRAL;
    }

    // ---- the deciding phase -----------------------------------------------------------------------

    @Override public HookResult onHelo(HeloContext ctx) { return decide(ctx.session(), "helo"); }

    @Override public HookResult onMail(MailContext ctx) { return decide(ctx.session(), "mail"); }

    @Override public HookResult onRcpt(RcptContext ctx) {
        if (isRoleAccount(ctx.recipient())) return HookResult.declined(); // RFC 2505 2.12: always reachable
        return decide(ctx.session(), "rcpt");
    }

    @Override public HookResult onData(DataContext ctx) { return decide(ctx.session(), "data"); }

    private HookResult decide(Session session, String phase) {
        if (!phase.equals(settings.phase())) return HookResult.declined();
        if (policy.off()) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();
        Optional<HookResult> decided = session.notes().get(DECIDED);
        if (decided.isPresent()) return decided.get();

        double total = session.trace().score();
        if (total < settings.threshold()) {
            session.notes().put(STANDING, new Standing(total, level(total)));
            return HookResult.declined();
        }
        Reply reply = phase.equals("connect") ? REFUSED_AT_CONNECT : REFUSED;
        String reason = "score " + format(total) + " >= threshold " + format(settings.threshold());
        HookResult result = policy.fail(session, phase, reply, reason, 0);
        session.notes().put(DECIDED, result);
        session.notes().put(STANDING, new Standing(total, Level.BAD));
        if (phase.equals("rcpt") && !session.notes().has(DeferredRejection.KEY)) {
            // every further recipient of the session gets the same answer from the core, without a new entry
            if (result instanceof HookResult.Deny d)
                session.notes().put(DeferredRejection.KEY, new DeferredRejection(NAME, "session", d.reply(), d.disconnect()));
            else if (result instanceof HookResult.DenySoft d)
                session.notes().put(DeferredRejection.KEY, new DeferredRejection(NAME, "session", d.reply(), d.disconnect()));
        }
        return result;
    }

    private boolean isRoleAccount(Address rcpt) {
        String localPart = rcpt.localPart().toLowerCase(Locale.ROOT);
        return (localPart.equals("postmaster") || localPart.equals("abuse")) && local.isLocalDomain(rcpt.domain());
    }

    static String format(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : String.format(Locale.ROOT, "%.2f", d);
    }

    // ---- history ----------------------------------------------------------------------------------

    @Override public void onDisconnect(DisconnectContext ctx) {
        Session session = ctx.session();
        if (policy.off()) return;
        if (CheckPolicy.exempt(session)) return;
        String outcome = outcome(session.trace(), session.messagesAccepted() > 0, settings.historyIgnore());
        if (outcome == null) return;
        store.increment(NAMESPACE, outcome + ":" + session.remoteAddress().getHostAddress(), 1, settings.historyTtl());
    }

    /**
     * "bad" when karma or any check refused the session (a reject, tempfail or disconnect verdict in the
     * trace, from a check not in {@code ignore}); "good" when it delivered a message and was never refused;
     * null (neutral, not counted) otherwise.
     */
    static String outcome(DecisionTrace trace, boolean delivered, Set<String> ignore) {
        for (DecisionTrace.Entry e : trace.entries())
            if (REFUSALS.contains(e.result()) && !ignore.contains(e.plugin())) return "bad";
        return delivered ? "good" : null;
    }

    /** Found by ServiceLoader under the name "karma". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings s, ServerServices services) {
            String phase = s.choice("phase", "rcpt", PHASES.toArray(String[]::new));
            double threshold = s.number("threshold", 5);
            Action action = Action.parse(s.choice("action", "reject", Action.NAMES));
            Duration ttl = s.duration("history_ttl", Duration.ofDays(30));
            double weight = s.number("history_weight", 1.0);
            double goodBelow = s.number("good_below", -2);
            double badAbove = s.number("bad_above", 2);
            List<String> ignore = s.strings("history_ignore", List.of("greylist"));
            if (ttl.isZero() || ttl.isNegative()) throw s.error("history_ttl", "must be longer than zero");
            if (weight < 0) throw s.error("history_weight", "must not be negative");
            if (goodBelow >= badAbove) throw s.error("good_below", "must be lower than bad_above (" + badAbove + ")");
            // karma's own verdict adds no score (it is the sum) and runs at its own phase: no score, no defer_to_rcpt
            CheckPolicy policy = new CheckPolicy(NAME, action, 0, false);
            Settings settings = new Settings(phase, threshold, ttl, weight, goodBelow, badAbove, Set.copyOf(ignore));
            return new KarmaPlugin(policy, settings, services.store(), services.localRecipients());
        }
    }
}
