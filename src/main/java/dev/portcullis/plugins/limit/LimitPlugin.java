package dev.portcullis.plugins.limit;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.DisconnectHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.PreConnectHook;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ResetContext;
import dev.portcullis.hook.ResetHook;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.hook.StateStore;
import dev.portcullis.hook.Transaction;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Limits per client (Postfix's anvil, in one plugin): concurrent connections and connections per minute
 * from one address (or network), messages and recipients per connection.
 *
 * Invariants:
 * - Every connection is counted in {@code pre_connect} (which runs for every session, whatever the connect
 *   hooks decide) and uncounted in {@code disconnect} (which the core runs however the session ends: QUIT,
 *   refusal at connect, timeout, reset by the peer). The session's note remembers what was counted, so
 *   the count can neither leak nor go below zero, and a count that reaches zero leaves the map.
 * - A connection's place in its client's count is fixed when it is counted: of eleven simultaneous
 *   connections with a limit of ten exactly one is refused, whatever the threads' interleaving.
 * - The connection rate lives in the state store (fixed one-minute windows): it survives a restart and will
 *   be shared by every server using the same store. A store failure skips the check, never refuses.
 */
public final class LimitPlugin implements PreConnectHook, ConnectHook, MailHook, RcptHook, DataHook, ResetHook, DisconnectHook {
    private static final Logger LOG = Logger.getLogger("portcullis.plugin.limit");
    static final String NAME = "limit";
    static final String STORE_NAMESPACE = "limit";

    /** Which client count this session holds a place in, and its place (1 = the first connection). */
    record Slot(String client, int place) {}

    /** Messages and recipients of this session's finished (or abandoned) transactions. */
    static final class Tally {
        int messages;
        int recipients;
    }

    private static final NoteKey<Slot> SLOT = NoteKey.of("limit-slot", Slot.class);
    private static final NoteKey<Tally> TALLY = NoteKey.of("limit-tally", Tally.class);
    /** On a transaction whose recipients are already in the session's tally. */
    private static final NoteKey<Boolean> TALLIED = NoteKey.of("limit-tallied", Boolean.class);

    static final Reply TOO_MANY_CONNECTIONS =
            new Reply(421, "4.7.0", "Error: too many connections from your address, try again later");
    static final Reply CONNECTION_RATE =
            new Reply(421, "4.7.0", "Error: too many connections from your address in the last minute, try again later");
    static final Reply TOO_MANY_MESSAGES =
            new Reply(451, "4.7.1", "Error: too many messages in this connection, please reconnect");
    static final Reply TOO_MANY_RECIPIENTS =
            new Reply(451, "4.7.1", "Error: too many recipients in this connection, please reconnect");

    /** Limits; 0 turns one off. */
    record Limits(int concurrent, int perMinute, int messages, int recipients, boolean exemptTrusted,
                  int ipv4Prefix, int ipv6Prefix) {}

    private final Limits limits;
    private final StateStore store;
    private final CheckPolicy policy = new CheckPolicy(NAME, Action.TEMPFAIL, 0, false);
    private final Map<String, Integer> open = new ConcurrentHashMap<>();

    LimitPlugin(Limits limits, StateStore store) {
        this.limits = limits;
        this.store = store;
    }

    @Override public String name() { return NAME; }

    // ---- connections ------------------------------------------------------------------------------

    @Override public void onPreConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (limits.concurrent() == 0 || session.notes().has(SLOT)) return;
        String client = clientKey(session.remoteAddress());
        int place = open.merge(client, 1, Integer::sum);
        session.notes().put(SLOT, new Slot(client, place));
    }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (limits.concurrent() == 0 && limits.perMinute() == 0) return HookResult.declined();
        if (trusted(session)) return HookResult.declined();

        String client = clientKey(session.remoteAddress());
        long recent = 0;
        if (limits.perMinute() > 0) {
            try {
                recent = store.increment(STORE_NAMESPACE, "rate:" + client, 1, Duration.ofMinutes(1));
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "state store failed", e);
                policy.skip(session, "connect", "connection rate unknown: " + e.getMessage());
            }
        }
        var slot = session.notes().get(SLOT);
        if (limits.concurrent() > 0 && slot.isPresent() && slot.get().place() > limits.concurrent())
            return policy.fail(session, "connect", TOO_MANY_CONNECTIONS, "connection " + slot.get().place() + " from "
                    + client + " (max_connections_per_ip " + limits.concurrent() + ")");
        if (limits.perMinute() > 0 && recent > limits.perMinute())
            return policy.fail(session, "connect", CONNECTION_RATE, recent + " connections from " + client
                    + " this minute (max_connections_per_minute_per_ip " + limits.perMinute() + ")");
        return HookResult.declined();
    }

    @Override public void onDisconnect(DisconnectContext ctx) {
        Session session = ctx.session();
        var slot = session.notes().get(SLOT);
        if (slot.isEmpty()) return;
        session.notes().remove(SLOT); // a second call must not uncount again
        open.computeIfPresent(slot.get().client(), (k, n) -> n <= 1 ? null : n - 1);
    }

    // ---- messages and recipients ------------------------------------------------------------------

    @Override public HookResult onMail(MailContext ctx) {
        Session session = ctx.session();
        if (limits.messages() == 0 || trusted(session)) return HookResult.declined();
        Tally tally = tally(session);
        if (tally.messages >= limits.messages())
            return policy.fail(session, "mail", TOO_MANY_MESSAGES, tally.messages
                    + " messages in this connection (max_messages_per_connection " + limits.messages() + ")");
        return HookResult.declined();
    }

    @Override public HookResult onRcpt(RcptContext ctx) {
        Session session = ctx.session();
        if (limits.recipients() == 0 || trusted(session)) return HookResult.declined();
        int total = tally(session).recipients + (counted(ctx.tx()) ? 0 : ctx.tx().recipients().size());
        if (total >= limits.recipients())
            return policy.fail(session, "rcpt", TOO_MANY_RECIPIENTS, total
                    + " recipients in this connection (max_recipients_per_connection " + limits.recipients() + ")");
        return HookResult.declined();
    }

    /** A transaction that reaches DATA (or BDAT) counts as a message, with its recipients. */
    @Override public HookResult onData(DataContext ctx) {
        Tally tally = tally(ctx.session());
        tally.messages++;
        addRecipients(tally, ctx.tx());
        return HookResult.declined();
    }

    /** An abandoned transaction's recipients still count (a client could otherwise RSET its way round). */
    @Override public void onReset(ResetContext ctx) {
        if (ctx.tx() != null) addRecipients(tally(ctx.session()), ctx.tx());
    }

    private static void addRecipients(Tally tally, Transaction tx) {
        if (counted(tx)) return;
        tx.notes().put(TALLIED, Boolean.TRUE);
        tally.recipients += tx.recipients().size();
    }

    private static boolean counted(Transaction tx) { return tx.notes().has(TALLIED); }

    private static Tally tally(Session session) { return session.notes().computeIfAbsent(TALLY, Tally::new); }

    private boolean trusted(Session session) { return limits.exemptTrusted() && CheckPolicy.exempt(session); }

    // ---- keys -------------------------------------------------------------------------------------

    /** The client's address, or its network when a prefix shorter than the address is configured. */
    String clientKey(InetAddress address) {
        byte[] bytes = address.getAddress();
        int prefix = address instanceof Inet6Address ? limits.ipv6Prefix() : limits.ipv4Prefix();
        if (prefix >= bytes.length * 8) return address.getHostAddress();
        for (int i = 0; i < bytes.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            bytes[i] &= (byte) (0xff << (8 - keep));
        }
        try {
            return InetAddress.getByAddress(bytes).getHostAddress() + "/" + prefix;
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e); // cannot happen: 4 or 16 bytes
        }
    }

    /** Open connections per client key right now (for tests and diagnostics). */
    Map<String, Integer> openConnections() { return Map.copyOf(open); }

    /** Found by ServiceLoader under the name "limit". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            Limits limits = new Limits(
                    count(settings, "max_connections_per_ip", 10),
                    count(settings, "max_connections_per_minute_per_ip", 60),
                    count(settings, "max_messages_per_connection", 100),
                    count(settings, "max_recipients_per_connection", 1000),
                    settings.bool("exempt_trusted", true),
                    prefix(settings, "ipv4_prefix", 32, 32),
                    prefix(settings, "ipv6_prefix", 128, 128));
            return new LimitPlugin(limits, services.store());
        }

        private static int count(PluginSettings settings, String key, int defaultValue) {
            long v = settings.integer(key, defaultValue);
            if (v < 0 || v > Integer.MAX_VALUE) throw settings.error(key, "expected a count from 0 (no limit) up");
            return (int) v;
        }

        private static int prefix(PluginSettings settings, String key, int defaultValue, int max) {
            long v = settings.integer(key, defaultValue);
            if (v < 1 || v > max) throw settings.error(key, "expected a prefix length from 1 to " + max);
            return (int) v;
        }
    }
}
