package dev.portcullis.hook;

import java.util.Set;

/**
 * The action model shared by every check: read once from the plugin's settings ({@code action},
 * {@code score}, {@code defer_to_rcpt}), then {@link #fail} turns a failed check into the hook's answer,
 * recording the verdict and its score in the session's decision trace either way.
 */
public final class CheckPolicy {
    /** Set by a check that vouches for the client (a DNSWL listing): later stranger checks skip it. */
    public static final NoteKey<String> ALLOWLISTED = NoteKey.of("allowlisted", String.class);

    private static final Set<String> EARLY_PHASES = Set.of("connect", "helo", "mail");

    private final String check;
    private final Action action;
    private final double score;
    private final boolean deferToRcpt;

    public CheckPolicy(String check, Action action, double score, boolean deferToRcpt) {
        this.check = check;
        this.action = action;
        this.score = score;
        this.deferToRcpt = deferToRcpt;
    }

    /** Reads {@code action}, {@code score} and {@code defer_to_rcpt} with the check's own defaults. */
    public static CheckPolicy read(PluginSettings settings, String check, Action defaultAction, double defaultScore,
                                   boolean defaultDefer) {
        Action action = Action.parse(settings.choice("action", defaultAction.label(), Action.NAMES));
        double score = settings.number("score", defaultScore);
        boolean defer = settings.bool("defer_to_rcpt", defaultDefer);
        return new CheckPolicy(check, action, score, defer);
    }

    public String check() { return check; }
    public Action action() { return action; }
    public double score() { return score; }
    public boolean off() { return action == Action.OFF; }
    public boolean deferToRcpt() { return deferToRcpt; }

    /**
     * True for clients the stranger checks leave alone: authenticated users, relay and allow networks,
     * and clients a DNSWL vouched for.
     */
    public static boolean exempt(Session session) {
        return session.authenticatedUser().isPresent() || session.relayClient() || session.allowlisted()
                || session.notes().has(ALLOWLISTED);
    }

    /**
     * The check failed. {@code reply} is the permanent (5xx) refusal; TEMPFAIL sends the same text as a 4xx.
     * Returns what the hook should answer (Declined for FLAG and for a refusal deferred to RCPT).
     */
    public HookResult fail(Session session, String phase, Reply reply, String reason) {
        return fail(session, phase, reply, reason, score);
    }

    /** As {@link #fail(Session, String, Reply, String)} with a score other than the configured one. */
    public HookResult fail(Session session, String phase, Reply reply, String reason, double withScore) {
        session.trace().add(check, phase, action.label(), withScore, reason);
        Reply answer = action == Action.TEMPFAIL ? transientOf(reply) : reply;
        boolean defer = deferToRcpt && EARLY_PHASES.contains(phase);
        return switch (action) {
            case OFF, FLAG -> HookResult.declined();
            case DISCONNECT -> answer.isTransient() ? new HookResult.DenySoft(answer, true) : new HookResult.Deny(answer, true);
            case REJECT, TEMPFAIL -> {
                if (defer) {
                    if (!session.notes().has(DeferredRejection.KEY))
                        session.notes().put(DeferredRejection.KEY, new DeferredRejection(check, phase, answer, false));
                    yield HookResult.declined();
                }
                yield answer.isTransient() ? new HookResult.DenySoft(answer, false) : new HookResult.Deny(answer, false);
            }
        };
    }

    /** The check passed or vouched for the client; a negative score lowers the karma sum. */
    public void pass(Session session, String phase, String reason, double withScore) {
        session.trace().add(check, phase, "pass", withScore, reason);
    }

    /** The check could not decide (a DNS timeout, say): recorded, never held against the client. */
    public void skip(Session session, String phase, String reason) {
        session.trace().add(check, phase, "skip", 0, reason);
    }

    /** The 4xx twin of a 5xx reply: same text, 451 and the enhanced code's class changed to 4. */
    public static Reply transientOf(Reply reply) {
        if (reply.isTransient()) return reply;
        String enhanced = reply.enhanced() == null ? "4.7.1" : "4" + reply.enhanced().substring(1);
        return new Reply(451, enhanced, reply.lines());
    }
}
