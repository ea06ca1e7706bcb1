package dev.portcullis.plugins.helo;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HeloHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.plugins.fcrdns.FcrdnsPlugin;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * HELO/EHLO checks (RFC 5321 4.1.1.1 and 4.1.3; RFC 2505 2.6): six sub-checks, each with its own action and
 * score, judged whenever the client says HELO or EHLO.
 *
 * Invariants:
 * - The sub-checks are judged in {@link SubCheck} order; the first one whose action refuses at once ends the
 *   judgment, the others (flags, refusals deferred to RCPT) all go to the decision trace.
 * - A DNS failure (timeout, SERVFAIL) is recorded as a skip, never held against the client (DESIGN habit 5).
 * - A client may say EHLO again (after STARTTLS, or just because): every name is judged, but a sub-check's
 *   score counts once per session, and a refusal this plugin deferred for an earlier name is replaced by the
 *   judgment of the new one (the name in the Received header is the last one).
 */
public final class HeloPlugin implements HeloHook {
    static final String NAME = "helo";
    private static final String PHASE = "helo";

    /** The sub-checks already scored in this session, so that a second EHLO does not count them twice. */
    private static final NoteKey<Scored> SCORED = NoteKey.of("helo-scored", Scored.class);

    static final class Scored {
        final Set<SubCheck> checks = EnumSet.noneOf(SubCheck.class);
    }

    /** Each sub-check: its setting name, the default action and score, and the text of its refusal. */
    enum SubCheck {
        CLAIMS_US("claims_us", Action.REJECT, 5, "you are not me"),
        BARE_IP("bare_ip", Action.REJECT, 3, "address literals need brackets"),
        INVALID("invalid", Action.REJECT, 3, "invalid hostname"),
        LITERAL_MISMATCH("literal_mismatch", Action.FLAG, 1, "address literal does not match your address"),
        NOT_FQDN("not_fqdn", Action.FLAG, 1, "need fully-qualified hostname"),
        NO_RESOLVE("no_resolve", Action.FLAG, 1, "hostname does not resolve");

        final String key;
        final Action defaultAction;
        final double defaultScore;
        final Reply reply;

        SubCheck(String key, Action defaultAction, double defaultScore, String text) {
            this.key = key;
            this.defaultAction = defaultAction;
            this.defaultScore = defaultScore;
            this.reply = new Reply(550, "5.7.1", "Error: HELO/EHLO rejected: " + text);
        }
    }

    /** One failed sub-check and what the log should know about it. */
    record Finding(SubCheck check, String reason) {}

    private final Map<SubCheck, CheckPolicy> policies;
    private final boolean allOff;
    /** Records the passes and skips, which belong to no sub-check's action. */
    private final CheckPolicy verdicts = new CheckPolicy(NAME, Action.FLAG, 0, false);
    private final Set<String> roles;
    private final String hostname;
    private final LocalRecipients local;
    private final Dns dns;

    HeloPlugin(Map<SubCheck, CheckPolicy> policies, Set<String> roles, String hostname, LocalRecipients local, Dns dns) {
        this.policies = new EnumMap<>(policies);
        this.allOff = policies.values().stream().allMatch(CheckPolicy::off);
        this.roles = Set.copyOf(roles);
        this.hostname = hostname.toLowerCase(Locale.ROOT);
        this.local = local;
        this.dns = dns;
    }

    @Override public String name() { return NAME; }

    @Override public HookResult onHelo(HeloContext ctx) {
        Session session = ctx.session();
        if (allOff) return HookResult.declined();
        if (!roles.contains(session.listenerRole())) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();

        // a new name is judged afresh: drop the refusal we deferred for the previous one
        session.notes().get(DeferredRejection.KEY)
                .filter(d -> d.check().equals(NAME))
                .ifPresent(d -> session.notes().remove(DeferredRejection.KEY));

        Scored scored = session.notes().computeIfAbsent(SCORED, Scored::new);
        String confirmed = session.notes().get(FcrdnsPlugin.VERIFIED_NAME).orElse(null);
        Judgment judgment = judge(ctx.helo(), session.remoteAddress(), session.localAddress(), confirmed);
        for (Finding f : judgment.findings()) {
            CheckPolicy policy = policies.get(f.check());
            double score = scored.checks.add(f.check()) ? policy.score() : 0;
            HookResult result = policy.fail(session, PHASE, f.check().reply, f.check().key + ": " + f.reason(), score);
            if (!(result instanceof HookResult.Declined)) return result;
        }
        if (judgment.skipped() != null) verdicts.skip(session, PHASE, judgment.skipped());
        else if (judgment.findings().isEmpty()) verdicts.pass(session, PHASE, "ok " + shorten(ctx.helo()), 0);
        return HookResult.declined();
    }

    /** The failed sub-checks in order, and why the resolution check could not decide (or null). */
    record Judgment(List<Finding> findings, String skipped) {}

    /** The decision without a name confirmed by fcrdns (see the four-argument form). */
    Judgment judge(String helo, InetAddress client, InetAddress us) { return judge(helo, client, us, null); }

    /**
     * The decision, separate from the session bookkeeping; only the enabled sub-checks are looked at.
     * {@code confirmed} is the client's forward-confirmed name from fcrdns in this session (or null): it was
     * just seen to resolve to the client's address, so that name passes {@code no_resolve} without asking again.
     */
    Judgment judge(String helo, InetAddress client, InetAddress us, String confirmed) {
        List<Finding> out = new ArrayList<>();
        HeloName n = HeloName.parse(helo);
        String shown = shorten(helo);
        switch (n.kind()) {
            case BARE_IP -> {
                if (on(SubCheck.CLAIMS_US) && n.address().equals(us) && !n.address().equals(client))
                    out.add(new Finding(SubCheck.CLAIMS_US, shown + " is our address"));
                if (on(SubCheck.BARE_IP)) out.add(new Finding(SubCheck.BARE_IP, shown + " is an address without brackets"));
            }
            case LITERAL -> {
                boolean ours = n.address().equals(us) && !n.address().equals(client);
                if (on(SubCheck.CLAIMS_US) && ours)
                    out.add(new Finding(SubCheck.CLAIMS_US, shown + " is our address"));
                else if (on(SubCheck.LITERAL_MISMATCH) && !n.address().equals(client))
                    out.add(new Finding(SubCheck.LITERAL_MISMATCH, shown + " is not " + client.getHostAddress()));
            }
            case INVALID -> {
                if (on(SubCheck.INVALID)) out.add(new Finding(SubCheck.INVALID, shown + ": " + n.problem()));
            }
            case HOSTNAME -> {
                boolean claims = n.name().equals(hostname) || local.isLocalDomain(n.name());
                if (on(SubCheck.CLAIMS_US) && claims)
                    out.add(new Finding(SubCheck.CLAIMS_US, shown + " is our name"));
                if (!n.fqdn()) {
                    if (on(SubCheck.NOT_FQDN)) out.add(new Finding(SubCheck.NOT_FQDN, shown + " has no dot"));
                } else if (on(SubCheck.NO_RESOLVE) && !(claims && on(SubCheck.CLAIMS_US)) && !n.name().equalsIgnoreCase(confirmed)) {
                    String problem = resolves(n.name());
                    if (problem != null && problem.startsWith("skip:"))
                        return new Judgment(out, "no_resolve: " + problem.substring(5));
                    if (problem != null) out.add(new Finding(SubCheck.NO_RESOLVE, shown + ": " + problem));
                }
            }
        }
        return new Judgment(out, null);
    }

    /**
     * Null when the name has an address (A or AAAA, asked together; an A settles it without waiting for the
     * AAAA) or, like Postfix's reject_unknown_helo_hostname, an MX; "skip:..." when DNS could not say; else
     * what DNS answered.
     */
    private String resolves(String name) {
        try {
            CompletableFuture<DnsAnswer<InetAddress>> aaaa = dns.start(() -> dns.aaaa(name));
            DnsAnswer<InetAddress> four = dns.a(name);
            if (four.found()) return null;
            DnsAnswer<InetAddress> six = aaaa.join();
            if (six.found()) return null;
            if (four.isTemporaryFailure() || six.isTemporaryFailure()) return "skip:DNS failure looking up " + name;
            DnsAnswer<MxHost> mx = dns.mx(name);
            if (mx.found()) return null;
            if (mx.isTemporaryFailure()) return "skip:DNS failure looking up MX " + name;
            return four.status() == DnsAnswer.Status.NXDOMAIN ? "no such domain" : "no address or MX record";
        } catch (RuntimeException e) { // a resolver bug is not the client's fault either
            return "skip:DNS error looking up " + name + ": " + e;
        }
    }

    private boolean on(SubCheck c) { return !policies.get(c).off(); }

    private static String shorten(String s) { return s.length() <= 100 ? s : s.substring(0, 100) + "..."; }

    /** Found by ServiceLoader under the name "helo". */
    public static final class Factory implements PluginFactory {
        static final Set<String> ROLES = Set.of("mx", "submission", "submissions");

        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            boolean defer = settings.bool("defer_to_rcpt", true);
            Map<SubCheck, CheckPolicy> policies = new EnumMap<>(SubCheck.class);
            for (SubCheck c : SubCheck.values()) {
                Action action = Action.parse(settings.choice(c.key, c.defaultAction.label(), Action.NAMES));
                double score = settings.number("score_" + c.key, c.defaultScore);
                policies.put(c, new CheckPolicy(NAME, action, score, defer));
            }
            List<String> roles = settings.strings("roles", List.of("mx"));
            for (String r : roles)
                if (!ROLES.contains(r)) throw settings.error("roles", "expected listener roles among mx, submission, submissions, not \"" + r + "\"");
            return new HeloPlugin(policies, Set.copyOf(roles), services.hostname(), services.localRecipients(), services.dns());
        }
    }
}
