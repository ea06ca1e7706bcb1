package dev.portcullis.plugins.greylist;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
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
import dev.portcullis.plugins.karma.KarmaPlugin;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * Greylisting (RFC 6647): the first attempt of a (client network, sender, recipient) triplet is refused with a
 * temporary error; a real MTA retries, most spamware does not.
 *
 * Invariants:
 * <ul>
 * <li>Every time decision uses the injected clock, never the wall clock, so tests can move time.</li>
 * <li>A triplet is "grey" from its first sight until {@code retry_window} has passed (then it is forgotten,
 * RFC 6647 4.2); an early retry never moves its first-seen time. A retry after {@code delay} turns it into
 * "pass", remembered for {@code pass_ttl} and refreshed by each later pass (RFC 6647 4.4).</li>
 * <li>The client is grouped by network ({@code ipv4_prefix}, {@code ipv6_prefix}), because large senders retry
 * from another address of the same pool (RFC 6647 4.1).</li>
 * <li>Each recipient is judged on its own; the pass score counts once per session, so a long recipient list
 * cannot buy good karma.</li>
 * </ul>
 */
public final class GreylistPlugin implements RcptHook {
    static final String NAME = "greylist";
    static final String NAMESPACE = "greylist";

    /** RFC 6647 2.1 and RFC 3463: a temporary refusal, "delivery not authorized" (4.7.1). */
    static final Reply GREYLISTED = new Reply(451, "4.7.1", "Greylisted, please try again later");

    /** Set once the pass score has been added to this session's trace. */
    private static final NoteKey<Boolean> PASS_SCORED = NoteKey.of("greylist-pass-scored", Boolean.class);

    record Settings(int ipv4Prefix, int ipv6Prefix, Duration delay, Duration retryWindow, Duration passTtl,
                    long autoAllowAfter, double passScore, boolean skipGoodKarma, boolean onlyKnownRecipients) {}

    private final CheckPolicy policy;
    private final Settings settings;
    private final StateStore store;
    private final Clock clock;
    private final LocalRecipients local;

    GreylistPlugin(CheckPolicy policy, Settings settings, StateStore store, Clock clock, LocalRecipients local) {
        this.policy = policy;
        this.settings = settings;
        this.store = store;
        this.clock = clock;
        this.local = local;
    }

    @Override public String name() { return NAME; }

    @Override public HookResult onRcpt(RcptContext ctx) {
        Session session = ctx.session();
        Address rcpt = ctx.recipient();
        if (policy.off()) return HookResult.declined();
        if (CheckPolicy.exempt(session)) return HookResult.declined();
        if (isRoleAccount(rcpt)) return HookResult.declined(); // RFC 2505 2.12: postmaster and abuse always reachable
        if (settings.skipGoodKarma() && session.notes().get(KarmaPlugin.STANDING).map(KarmaPlugin.Standing::good).orElse(false))
            return HookResult.declined();
        if (settings.onlyKnownRecipients() && !deliverable(rcpt)) return HookResult.declined(); // refused for good later

        String network = network(session.remoteAddress(), settings.ipv4Prefix(), settings.ipv6Prefix());
        long now = clock.millis();
        if (settings.autoAllowAfter() > 0 && store.get(NAMESPACE, "allow:" + network).isPresent()) {
            store.put(NAMESPACE, "allow:" + network, "allow", settings.passTtl());
            passed(session, "auto-allowed network " + network);
            return HookResult.declined();
        }

        String key = "t:" + tripletKey(network, ctx.tx().sender(), rcpt);
        Optional<Entry> entry = store.get(NAMESPACE, key).flatMap(Entry::parse);
        if (entry.isEmpty() || (!entry.get().passed() && now - entry.get().firstSeen() >= settings.retryWindow().toMillis())) {
            store.put(NAMESPACE, key, new Entry(false, now).encode(), settings.retryWindow());
            return policy.fail(session, "rcpt", GREYLISTED, "first sight from " + network);
        }
        Entry e = entry.get();
        if (e.passed()) {
            store.put(NAMESPACE, key, e.encode(), settings.passTtl());
            passed(session, "known triplet");
            return HookResult.declined();
        }
        long waited = now - e.firstSeen();
        if (waited < settings.delay().toMillis())
            return policy.fail(session, "rcpt", GREYLISTED, "retry after " + seconds(waited) + ", before " + seconds(settings.delay().toMillis()));
        store.put(NAMESPACE, key, new Entry(true, e.firstSeen()).encode(), settings.passTtl());
        countNetworkPass(network);
        passed(session, "retried after " + seconds(waited));
        return HookResult.declined();
    }

    /** A pass is good history: its score (negative) counts once per session. */
    private void passed(Session session, String reason) {
        boolean first = !session.notes().has(PASS_SCORED);
        session.notes().put(PASS_SCORED, true);
        policy.pass(session, "rcpt", reason, first ? settings.passScore() : 0);
    }

    /** Auto-allow: a network that passed greylisting {@code auto_allow_after} times skips it (postgrey's AWL). */
    private void countNetworkPass(String network) {
        if (settings.autoAllowAfter() <= 0) return;
        long passes = store.increment(NAMESPACE, "passes:" + network, 1, settings.passTtl());
        if (passes >= settings.autoAllowAfter()) store.put(NAMESPACE, "allow:" + network, "allow", settings.passTtl());
    }

    private boolean isRoleAccount(Address rcpt) {
        String localPart = rcpt.localPart().toLowerCase(Locale.ROOT);
        return (localPart.equals("postmaster") || localPart.equals("abuse")) && local.isLocalDomain(rcpt.domain());
    }

    /** A recipient the rcpt plugin would accept: a known mailbox of a local domain (exempt clients never get here). */
    private boolean deliverable(Address rcpt) {
        return local.isLocalDomain(rcpt.domain()) && local.mailboxesFor(rcpt).isPresent();
    }

    /** The client's network as text, e.g. {@code 192.0.2.0/24} or {@code 2001:db8:1:2:0:0:0:0/64}. */
    static String network(InetAddress address, int ipv4Prefix, int ipv6Prefix) {
        byte[] bytes = address.getAddress();
        int prefix = bytes.length == 4 ? ipv4Prefix : ipv6Prefix;
        for (int i = 0; i < bytes.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - 8 * i));
            bytes[i] &= (byte) (0xff << (8 - keep));
        }
        try {
            return InetAddress.getByAddress(bytes).getHostAddress() + "/" + prefix;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // cannot happen: 4 or 16 bytes
        }
    }

    /**
     * Network, sender and recipient, addresses in lower case (the null sender is ""). The sender's length is
     * written before it, so a quoted local part containing a space cannot make two triplets collide.
     */
    static String tripletKey(String network, Address sender, Address rcpt) {
        String from = sender.mailbox().toLowerCase(Locale.ROOT);
        String to = rcpt.mailbox().toLowerCase(Locale.ROOT);
        return network + " " + from.length() + ":" + from + " " + to;
    }

    private static String seconds(long millis) { return (millis / 1000) + "s"; }

    /** What the store keeps per triplet: "grey &lt;first seen ms&gt;" or "pass &lt;first seen ms&gt;". */
    record Entry(boolean passed, long firstSeen) {
        String encode() { return (passed ? "pass " : "grey ") + firstSeen; }

        static Optional<Entry> parse(String s) {
            int space = s.indexOf(' ');
            if (space < 0) return Optional.empty();
            String kind = s.substring(0, space);
            if (!kind.equals("pass") && !kind.equals("grey")) return Optional.empty();
            try {
                return Optional.of(new Entry(kind.equals("pass"), Long.parseLong(s.substring(space + 1))));
            } catch (NumberFormatException e) {
                return Optional.empty(); // unreadable: treat as never seen
            }
        }
    }

    /** Found by ServiceLoader under the name "greylist". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings s, ServerServices services) {
            Action action = Action.parse(s.choice("action", "tempfail", Action.NAMES));
            if (action != Action.TEMPFAIL && action != Action.FLAG && action != Action.OFF)
                throw s.error("action", "greylisting is a temporary refusal: use tempfail, flag (dry run) or off, not "
                        + action.label());
            double score = s.number("score", 0);
            long v4 = s.integer("ipv4_prefix", 24);
            long v6 = s.integer("ipv6_prefix", 64);
            Duration delay = s.duration("delay", Duration.ofMinutes(5));
            Duration retryWindow = s.duration("retry_window", Duration.ofHours(48));
            Duration passTtl = s.duration("pass_ttl", Duration.ofDays(36));
            long autoAllow = s.integer("auto_allow_after", 5);
            double passScore = s.number("pass_score", -1);
            boolean skipGoodKarma = s.bool("skip_good_karma", true);
            boolean onlyKnown = s.bool("only_known_recipients", true);
            if (v4 < 0 || v4 > 32) throw s.error("ipv4_prefix", "must be between 0 and 32");
            if (v6 < 0 || v6 > 128) throw s.error("ipv6_prefix", "must be between 0 and 128");
            if (retryWindow.isZero() || retryWindow.isNegative()) throw s.error("retry_window", "must be longer than zero");
            if (delay.isNegative() || delay.compareTo(retryWindow) >= 0)
                throw s.error("delay", "must be shorter than retry_window (" + retryWindow + ")");
            if (passTtl.isZero() || passTtl.isNegative()) throw s.error("pass_ttl", "must be longer than zero");
            if (autoAllow < 0) throw s.error("auto_allow_after", "must not be negative (0 turns auto-allow off)");
            // no defer_to_rcpt: greylisting only ever acts at RCPT
            CheckPolicy policy = new CheckPolicy(NAME, action, score, false);
            Settings settings = new Settings((int) v4, (int) v6, delay, retryWindow, passTtl, autoAllow, passScore,
                    skipGoodKarma, onlyKnown);
            return new GreylistPlugin(policy, settings, services.store(), services.clock(), services.localRecipients());
        }
    }
}
