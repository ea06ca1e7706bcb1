package dev.portcullis.plugins.spf;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.DataPostContext;
import dev.portcullis.hook.DataPostHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.PreMailHook;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.spf.SpfEvaluator;
import dev.portcullis.spf.SpfResult;
import dev.portcullis.spf.SpfVerdict;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * SPF (RFC 7208) at MAIL FROM: the sender's domain (or, for the null sender, the HELO name) says whether the
 * client may send for it. Each result has its own action and score; the result is recorded in a
 * {@code Received-SPF} header (RFC 7208 9.1) on the accepted message. Refusal codes are RFC 7372's:
 * 550 5.7.23 for fail, 5.7.24 for errors.
 *
 * <p>The evaluation starts at pre_mail, on its own virtual thread, so its lookups run while the other
 * plugins' (the sender check's) do; the mail hook joins it and decides.
 */
public final class SpfPlugin implements PreMailHook, MailHook, DataPostHook {
    private static final NoteKey<String> HEADER = NoteKey.of("spf.received-spf", String.class);

    /** The evaluation started at pre_mail, with the identity it was started for. */
    record Pending(String from, String helo, CompletableFuture<SpfVerdict> verdict) {}

    private static final NoteKey<Pending> PENDING = NoteKey.of("spf.pending", Pending.class);

    private final SpfEvaluator evaluator;
    private final Map<SpfResult, CheckPolicy> policies;
    private final boolean header;

    SpfPlugin(SpfEvaluator evaluator, Map<SpfResult, CheckPolicy> policies, boolean header) {
        this.evaluator = evaluator;
        this.policies = policies;
        this.header = header;
    }

    @Override public String name() { return "spf"; }

    @Override public void onPreMail(MailContext ctx) {
        if (CheckPolicy.exempt(ctx.session())) return;
        String helo = helo(ctx);
        String from = from(ctx);
        var client = ctx.session().remoteAddress();
        ctx.tx().notes().put(PENDING, new Pending(from, helo, evaluator.start(client, from, helo)));
    }

    @Override public HookResult onMail(MailContext ctx) {
        if (CheckPolicy.exempt(ctx.session())) return HookResult.declined();
        String helo = helo(ctx);
        String from = from(ctx);
        SpfVerdict v = ctx.tx().notes().get(PENDING)
                .filter(p -> p.from().equals(from) && p.helo().equals(helo))
                .map(p -> p.verdict().join())
                .orElseGet(() -> evaluator.check(ctx.session().remoteAddress(), from, helo)); // no pre_mail
        ctx.tx().notes().remove(PENDING);
        if (header)
            ctx.tx().notes().put(HEADER, evaluator.receivedSpfHeader(v, ctx.session().remoteAddress(), from, helo));
        CheckPolicy policy = policies.get(v.result());
        String reason = v.result().headerName() + " for " + v.domain() + " (" + v.reason() + ")";
        if (v.result() == SpfResult.PASS || policy.off()) {
            ctx.session().trace().add(name(), "mail", v.result().headerName(), policy.off() && v.result() != SpfResult.PASS ? 0 : policy.score(), reason);
            return HookResult.declined();
        }
        Reply refusal = switch (v.result()) {
            case FAIL -> new Reply(550, "5.7.23", "Error: SPF check failed" + (v.explanation() == null ? "" : ": " + v.explanation()));
            case TEMPERROR -> new Reply(550, "5.7.24", "Error: SPF check could not be completed, try again later");
            case PERMERROR -> new Reply(550, "5.7.24", "Error: the sender domain's SPF record is invalid");
            default -> new Reply(550, "5.7.23", "Error: SPF check " + v.result().headerName());
        };
        return policy.fail(ctx.session(), "mail", refusal, reason);
    }

    private static String helo(MailContext ctx) { return ctx.session().helo() == null ? "" : ctx.session().helo(); }

    private static String from(MailContext ctx) { return ctx.sender().isNull() ? "" : ctx.sender().mailbox(); }

    /** The header goes on at the end of DATA, when the message is known to be accepted so far. */
    @Override public HookResult onDataPost(DataPostContext ctx) {
        ctx.tx().notes().get(HEADER).ifPresent(h -> ctx.tx().addHeader("Received-SPF", h));
        return HookResult.declined();
    }

    /** Found by ServiceLoader under the name "spf". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "spf"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            Map<SpfResult, CheckPolicy> policies = new EnumMap<>(SpfResult.class);
            boolean defer = settings.bool("defer_to_rcpt", false);
            policies.put(SpfResult.PASS, policy(settings, "pass", Action.OFF, 0, defer));
            policies.put(SpfResult.FAIL, policy(settings, "fail", Action.REJECT, 5, defer));
            policies.put(SpfResult.SOFTFAIL, policy(settings, "softfail", Action.FLAG, 2, defer));
            policies.put(SpfResult.NEUTRAL, policy(settings, "neutral", Action.OFF, 0, defer));
            policies.put(SpfResult.NONE, policy(settings, "none", Action.OFF, 0, defer));
            policies.put(SpfResult.TEMPERROR, policy(settings, "temperror", Action.TEMPFAIL, 0, defer));
            policies.put(SpfResult.PERMERROR, policy(settings, "permerror", Action.FLAG, 1, defer));
            return new SpfPlugin(new SpfEvaluator(services.dns(), services.hostname()), policies, settings.bool("header", true));
        }

        /** One action and score per result: {@code fail = "reject"}, {@code score_fail = 5}, ... */
        private static CheckPolicy policy(PluginSettings s, String result, Action defaultAction, double defaultScore, boolean defer) {
            Action action = Action.parse(s.choice(result, defaultAction.label(), Action.NAMES));
            double score = s.number("score_" + result, defaultScore);
            return new CheckPolicy("spf", action, score, defer);
        }
    }
}
