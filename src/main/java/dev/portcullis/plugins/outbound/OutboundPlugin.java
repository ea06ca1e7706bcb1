package dev.portcullis.plugins.outbound;

import dev.portcullis.accounts.Accounts;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.hook.StateStore;
import dev.portcullis.net.Cidr;
import dev.portcullis.queue.Envelope;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The compromised-account detector: limits on what one sender identity may send, so that a stolen password
 * or a hijacked web application cannot turn the server into a spam cannon.
 *
 * Identity: the authenticated user, or for unauthenticated clients of the relay networks their /24 (/64).
 * Strangers sending to local users are not outbound mail and are not counted. Every message that reaches
 * DATA counts — refused ones too, so a bot that keeps pushing after its 451s reaches the hard limit —, with
 * its recipients, in fixed windows kept in the state store (so a restart does not reset
 * them): messages and recipients per hour and per day, distinct recipients per day, refused recipients per
 * hour. Past a soft limit the message gets 451 4.7.1 (a legitimate client retries later; a bot keeps
 * pushing). Past a hard limit the account is held: this message and every later submission are refused,
 * its messages still queued are put on hold, and the postmaster gets a notice with the figures.
 * {@code portcullis user release NAME} lifts it.
 */
public final class OutboundPlugin implements RcptHook, DataHook {
    private static final Logger LOG = Logger.getLogger("portcullis.outbound");
    private static final String NS = "outbound";
    private static final NoteKey<AtomicInteger> ATTEMPTS = NoteKey.of("outbound.rcpt-attempts", AtomicInteger.class);

    /** One limit: a counter name, its window, and the soft and hard thresholds (0 = none). */
    record Limit(String name, Duration window, long soft, long hard) {}

    private final StateStore store;
    private final ServerServices services;
    private final List<Limit> limits;
    private final int ipv4Prefix;

    OutboundPlugin(ServerServices services, List<Limit> limits, int ipv4Prefix) {
        this.services = services;
        this.store = services.store();
        this.limits = List.copyOf(limits);
        this.ipv4Prefix = ipv4Prefix;
    }

    @Override public String name() { return "outbound"; }

    String identity(Session s) {
        if (s.authenticatedUser().isPresent()) return "user:" + s.authenticatedUser().get().toLowerCase(Locale.ROOT);
        if (s.relayClient()) {
            boolean v6 = s.remoteAddress() instanceof java.net.Inet6Address;
            return "net:" + Cidr.parse(s.remoteAddress().getHostAddress() + "/" + (v6 ? 64 : ipv4Prefix));
        }
        return null;
    }

    /** Counts RCPT attempts, to know at DATA how many were refused. */
    @Override public HookResult onRcpt(RcptContext ctx) {
        if (identity(ctx.session()) != null) ctx.tx().notes().computeIfAbsent(ATTEMPTS, AtomicInteger::new).incrementAndGet();
        return HookResult.declined();
    }

    /** The counters after one more message, and which limits it went past. */
    record Count(Map<String, Long> figures, List<String> overSoft, List<String> overHard) {}

    @Override public HookResult onData(DataContext ctx) {
        String id = identity(ctx.session());
        if (id == null) return HookResult.declined();
        List<String> rcpts = ctx.tx().recipients().stream().map(a -> a.mailbox().toLowerCase(Locale.ROOT)).toList();
        int attempts = ctx.tx().notes().get(ATTEMPTS).map(AtomicInteger::get).orElse(rcpts.size());
        Count c = count(id, rcpts, attempts);
        if (!c.overHard().isEmpty()) {
            String reason = "outbound hard limit: " + String.join(", ", c.overHard());
            ctx.session().trace().add(name(), "data", "deny", id + " held: " + reason);
            holdIdentity(id, reason, ctx.session().remoteAddress().getHostAddress(), c.figures());
            return HookResult.deny(554, "5.7.1", "Error: account held for review; contact the postmaster");
        }
        if (!c.overSoft().isEmpty()) {
            ctx.session().trace().add(name(), "data", "denysoft", id + ": " + String.join(", ", c.overSoft()));
            return HookResult.denySoft(451, "4.7.1", "Error: sending limit reached, try again later");
        }
        return HookResult.declined();
    }

    /**
     * Mail from local programs ({@code portcullis sendmail}) counts against its identity too
     * ({@code local:<unix user>}). There is no client to tell "try later", so a soft limit lets it through;
     * past a hard limit it is held (the pickup keeps it aside) and the postmaster is told.
     */
    public boolean admitLocal(Envelope envelope) {
        String id = envelope.authUser() == null ? "local:unknown" : envelope.authUser();
        List<String> rcpts = envelope.recipients().stream().map(a -> a.mailbox().toLowerCase(Locale.ROOT)).toList();
        Count c = count(id, rcpts, rcpts.size());
        if (c.overHard().isEmpty()) return true;
        holdIdentity(id, "outbound hard limit: " + String.join(", ", c.overHard()), "local", c.figures());
        return false;
    }

    Count count(String id, List<String> rcpts, int attempts) {
        long distinctNew = 0;
        for (String r : rcpts) {
            String key = id + "|" + r;
            if (store.get(NS + "-seen", key).isEmpty()) {
                store.put(NS + "-seen", key, "1", Duration.ofDays(1));
                distinctNew++;
            }
        }
        Map<String, Long> add = Map.of("messages_per_hour", 1L, "messages_per_day", 1L,
                "recipients_per_hour", (long) rcpts.size(), "recipients_per_day", (long) rcpts.size(),
                "distinct_recipients_per_day", distinctNew, "refused_recipients_per_hour", (long) Math.max(0, attempts - rcpts.size()));
        Map<String, Long> figures = new LinkedHashMap<>();
        List<String> overHard = new ArrayList<>();
        List<String> overSoft = new ArrayList<>();
        for (Limit l : limits) {
            long value = store.increment(NS, l.name() + ":" + id, add.getOrDefault(l.name(), 0L), l.window());
            figures.put(l.name(), value);
            if (l.hard() > 0 && value > l.hard()) overHard.add(l.name() + " " + value + " > " + l.hard());
            else if (l.soft() > 0 && value > l.soft()) overSoft.add(l.name() + " " + value + " > " + l.soft());
        }
        return new Count(figures, overSoft, overHard);
    }

    /** Holds an account (and its queued mail) and tells the postmaster, once per hold. */
    private void holdIdentity(String id, String reason, String client, Map<String, Long> figures) {
        if (!id.startsWith("user:")) {
            LOG.warning(() -> "outbound " + id + " over a hard limit: " + reason);
            if (id.startsWith("local:")) notifyPostmaster(id.substring(6), id, reason, client, -1, figures);
            return;
        }
        String user = id.substring(5);
        Accounts accounts = services.accounts();
        boolean first = accounts.find(user).map(a -> !a.held()).orElse(false);
        accounts.setHeld(user, reason);
        int held = services.holdQueuedMail(user, reason);
        if (!first) return;
        LOG.warning(() -> "outbound account=" + user + " held: " + reason + "; " + held + " queued message(s) held");
        notifyPostmaster(user, id, reason, client, held, figures);
    }

    private void notifyPostmaster(String who, String id, String reason, String client, int held, Map<String, Long> figures) {
        boolean account = id.startsWith("user:");
        StringBuilder body = new StringBuilder()
                .append(account ? "The account " : "The local user ").append(who)
                .append(" went past a hard sending limit").append(account ? " and has been held.\n\n" : ".\n\n")
                .append("Client: ").append(client).append('\n')
                .append("Reason: ").append(reason).append('\n');
        if (held >= 0) body.append("Queued messages put on hold: ").append(held).append('\n');
        else body.append("Its message was kept aside in the maildrop's held/ folder.\n");
        body.append("\nFigures:\n");
        figures.forEach((k, v) -> body.append("  ").append(k).append(": ").append(v).append('\n'));
        if (account) body.append("\nIf this is legitimate, lift the hold with:  portcullis user release ").append(who).append('\n')
                .append("If the account is compromised, change its password first:  portcullis user passwd ").append(who).append('\n');
        services.notifyPostmaster((account ? "Account " : "Local user ") + who + " held: outbound limit exceeded", body.toString());
    }

    /** Found by ServiceLoader under the name "outbound". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "outbound"; }

        @Override public Plugin create(PluginSettings s, ServerServices services) {
            List<Limit> limits = List.of(
                    limit(s, "messages_per_hour", Duration.ofHours(1), 100, 300),
                    limit(s, "messages_per_day", Duration.ofDays(1), 500, 1500),
                    limit(s, "recipients_per_hour", Duration.ofHours(1), 300, 1000),
                    limit(s, "recipients_per_day", Duration.ofDays(1), 1000, 3000),
                    limit(s, "distinct_recipients_per_day", Duration.ofDays(1), 500, 1500),
                    limit(s, "refused_recipients_per_hour", Duration.ofHours(1), 20, 50));
            long prefix = s.integer("ipv4_prefix", 24);
            if (prefix < 8 || prefix > 32) throw s.error("ipv4_prefix", "expected 8 to 32");
            return new OutboundPlugin(services, limits, (int) prefix);
        }

        /** {@code name = soft} and {@code name_hard = hard}; 0 turns either off; hard must exceed soft. */
        private static Limit limit(PluginSettings s, String name, Duration window, long soft, long hard) {
            long so = s.integer(name, soft);
            long ha = s.integer(name + "_hard", hard);
            if (so < 0 || ha < 0) throw s.error(name, "limits are 0 (off) or more");
            if (so > 0 && ha > 0 && ha <= so) throw s.error(name + "_hard", "the hard limit must be above the soft one (" + so + ")");
            return new Limit(name, window, so, ha);
        }
    }
}
