package dev.portcullis.hook;

/**
 * What a plugin answers for one phase. The first result that is not {@link Declined} wins;
 * a {@code switch} over this sealed type maps it to a reply, so an unhandled outcome does not compile.
 */
public sealed interface HookResult {

    /** No opinion: the next plugin in the chain decides. */
    record Declined() implements HookResult {}

    /** Accept and stop the chain. The note goes to the log and the decision trace. */
    record Ok(String note) implements HookResult {}

    /** Permanent refusal (5xx); {@code disconnect} closes the session after the reply. */
    record Deny(Reply reply, boolean disconnect) implements HookResult {
        public Deny { if (!reply.isPermanent()) throw new IllegalArgumentException("Deny needs a 5xx reply: " + reply); }
    }

    /** Temporary refusal (4xx); {@code disconnect} closes the session after the reply. */
    record DenySoft(Reply reply, boolean disconnect) implements HookResult {
        public DenySoft { if (!reply.isTransient()) throw new IllegalArgumentException("DenySoft needs a 4xx reply: " + reply); }
    }

    HookResult DECLINED = new Declined();

    static HookResult declined() { return DECLINED; }
    static HookResult ok(String note) { return new Ok(note); }
    static HookResult deny(int code, String enhanced, String text) { return new Deny(new Reply(code, enhanced, text), false); }
    static HookResult denySoft(int code, String enhanced, String text) { return new DenySoft(new Reply(code, enhanced, text), false); }
    static HookResult denyAndDisconnect(int code, String enhanced, String text) { return new Deny(new Reply(code, enhanced, text), true); }
    static HookResult denySoftAndDisconnect(int code, String enhanced, String text) { return new DenySoft(new Reply(code, enhanced, text), true); }
}
