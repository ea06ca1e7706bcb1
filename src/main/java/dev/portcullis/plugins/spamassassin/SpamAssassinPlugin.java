package dev.portcullis.plugins.spamassassin;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.DataPostContext;
import dev.portcullis.hook.DataPostHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Message;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import dev.portcullis.hook.Transaction;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.logging.Logger;

/**
 * Content scanning with SpamAssassin's spamd at the end of DATA, before the 250: a message scoring at or above
 * {@code reject_score} is refused there (550 5.7.1, never accepted and bounced later), one at or above
 * {@code flag_score} is marked (headers, optionally a subject tag, a {@code flag} verdict), any other gets the
 * headers that say it was scanned.
 *
 * Invariants: the message spamd sees is the one that will be stored (our Received field included, which tells
 * spamd the client's address and HELO); a scanner that is down or slow never refuses mail permanently
 * ({@code on_error}: accept marked "Unknown", or 451); headers of the configured names that the client sent are
 * removed, so only ours reach the mailbox. Our own users (authenticated, relay networks) can be scanned without
 * being refused ({@code authenticated = "scan_only"}) or have their spam held for review ({@code "hold"}).
 */
public final class SpamAssassinPlugin implements DataPostHook {
    static final String NAME = "spamassassin";
    static final String PHASE = "data_post";
    private static final Logger LOG = Logger.getLogger("portcullis.plugin.spamassassin");
    private static final Reply REFUSED = new Reply(550, "5.7.1", "Error: message content refused as spam");
    private static final Reply UNAVAILABLE = new Reply(451, "4.7.1", "Error: message could not be scanned, try again later");

    enum OnError { ACCEPT, TEMPFAIL }

    /** What happens to our own users' spam: the same as anyone's, headers only, or held for review. */
    enum Authenticated { SAME, SCAN_ONLY, HOLD }

    record Settings(double rejectScore, double flagScore, String subjectTag, String statusHeader, String scoreHeader,
                    double karmaWeight, long maxSize, OnError onError, Authenticated authenticated) {}

    private final SpamdClient client;
    private final CheckPolicy policy;
    private final Settings settings;
    private final ScheduledThreadPoolExecutor watchdog;

    SpamAssassinPlugin(SpamdClient client, CheckPolicy policy, Settings settings, ScheduledThreadPoolExecutor watchdog) {
        this.client = client;
        this.policy = policy;
        this.settings = settings;
        this.watchdog = watchdog;
    }

    @Override public String name() { return NAME; }

    @Override public void close() { watchdog.shutdownNow(); }

    @Override public HookResult onDataPost(DataPostContext ctx) {
        Session session = ctx.session();
        Transaction tx = ctx.tx();
        Message message = ctx.message();
        if (policy.off()) return HookResult.declined();
        if (message.size() > settings.maxSize()) {
            policy.skip(session, PHASE, "not scanned: " + message.size() + " octets > max_size " + settings.maxSize());
            return HookResult.declined();
        }
        SpamdClient.Verdict v;
        try (InputStream in = message.open()) {
            v = client.check(in, message.size());
        } catch (IOException e) {
            return unavailable(session, tx, e.getMessage());
        }

        double karma = v.score() * settings.karmaWeight();
        boolean ownUser = session.authenticatedUser().isPresent() || session.relayClient();
        Authenticated mode = ownUser ? settings.authenticated() : Authenticated.SAME;
        if (v.score() >= settings.rejectScore()) {
            String reason = reason(v, ">= reject_score " + format(settings.rejectScore()));
            boolean refuses = policy.action() == Action.REJECT || policy.action() == Action.TEMPFAIL
                    || policy.action() == Action.DISCONNECT;
            if (refuses && mode == Authenticated.HOLD) {
                mark(tx, message, v, true);
                tx.notes().put(Transaction.HOLD, NAME + ": score " + format(v.score()) + " >= reject_score "
                        + format(settings.rejectScore()));
                session.trace().add(NAME, PHASE, "hold", karma, reason);
                return HookResult.declined();
            }
            if (refuses && mode == Authenticated.SCAN_ONLY) {
                mark(tx, message, v, true);
                session.trace().add(NAME, PHASE, "flag", karma, reason + " (own user: scan_only)");
                return HookResult.declined();
            }
            HookResult answer = policy.fail(session, PHASE, REFUSED, reason, karma);
            if (answer instanceof HookResult.Declined) mark(tx, message, v, true); // action = "flag"
            return answer;
        }
        if (v.score() >= settings.flagScore()) {
            mark(tx, message, v, true);
            session.trace().add(NAME, PHASE, "flag", karma, reason(v, ">= flag_score " + format(settings.flagScore())));
            return HookResult.declined();
        }
        mark(tx, message, v, false);
        policy.pass(session, PHASE, reason(v, "< flag_score " + format(settings.flagScore())), karma);
        return HookResult.declined();
    }

    /** spamd down, slow or confused: never a permanent refusal (DESIGN habit 5), and never held against the client. */
    private HookResult unavailable(Session session, Transaction tx, String why) {
        LOG.warning(() -> "spamd at " + client.where() + " unavailable (session " + session.id() + ", " + tx.queueId()
                + "): " + why + "; " + (settings.onError() == OnError.TEMPFAIL ? "answering 451" : "accepting unscanned"));
        if (settings.onError() == OnError.TEMPFAIL) {
            policy.skip(session, PHASE, "scanner unavailable: " + why + "; on_error = tempfail");
            return new HookResult.DenySoft(UNAVAILABLE, false);
        }
        policy.skip(session, PHASE, "scanner unavailable: " + why + "; accepted unscanned");
        if (!settings.statusHeader().isEmpty()) {
            tx.removeHeader(settings.statusHeader(), 0);
            tx.addHeader(settings.statusHeader(), "Unknown (scanner unavailable)");
        }
        if (!settings.scoreHeader().isEmpty()) tx.removeHeader(settings.scoreHeader(), 0);
        return HookResult.declined();
    }

    /** Our headers in place of any the client sent; for spam also the subject tag. */
    private void mark(Transaction tx, Message message, SpamdClient.Verdict v, boolean spam) {
        if (!settings.statusHeader().isEmpty()) {
            tx.removeHeader(settings.statusHeader(), 0);
            tx.addHeader(settings.statusHeader(), (spam ? "Yes" : "No") + ", score=" + format1(v.score())
                    + " required=" + format1(settings.flagScore()) + " tests=" + tests(v.rules()));
        }
        if (!settings.scoreHeader().isEmpty()) {
            tx.removeHeader(settings.scoreHeader(), 0);
            tx.addHeader(settings.scoreHeader(), format1(v.score()));
        }
        if (spam && !settings.subjectTag().isEmpty()) {
            String subject = message.header("Subject").orElse("");
            if (!subject.startsWith(settings.subjectTag())) tx.replaceHeader("Subject", settings.subjectTag() + " " + subject);
        }
    }

    /** The rule names, cut so that the header line stays well under RFC 5322's 998 octets. */
    static String tests(List<String> rules) {
        if (rules.isEmpty()) return "none";
        StringBuilder sb = new StringBuilder();
        for (String r : rules) {
            if (sb.length() + r.length() > 800) return sb.append(",...").toString();
            if (!sb.isEmpty()) sb.append(',');
            sb.append(r);
        }
        return sb.toString();
    }

    private static String reason(SpamdClient.Verdict v, String comparison) {
        String rules = String.join(",", v.rules());
        if (rules.length() > 200) rules = rules.substring(0, 200) + "...";
        return "score " + format(v.score()) + " " + comparison + " (spamd: " + (v.spam() ? "spam" : "ham") + " at "
                + format(v.required()) + ") tests=" + (rules.isEmpty() ? "none" : rules);
    }

    static String format(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : String.format(Locale.ROOT, "%.2f", d);
    }

    /** One decimal, as SpamAssassin writes scores ("-0.0" written as "0.0"). */
    static String format1(double d) {
        String s = String.format(Locale.ROOT, "%.1f", d);
        return s.equals("-0.0") ? "0.0" : s;
    }

    /** Found by ServiceLoader under the name "spamassassin". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings s, ServerServices services) {
            String address = s.string("address", null);
            String socket = s.string("socket", null);
            if (address != null && socket != null) throw s.error("socket", "set address or socket, not both");
            if (socket != null && socket.isBlank()) throw s.error("socket", "expected the path of spamd's Unix socket");
            InetSocketAddress tcp = socket == null ? hostPort(s, "address", address == null ? "127.0.0.1:783" : address) : null;
            Duration timeout = s.duration("timeout", Duration.ofSeconds(30));
            if (timeout.isZero() || timeout.isNegative()) throw s.error("timeout", "must be longer than zero");
            long maxSize = s.size("max_size", 512_000);
            String user = s.string("user", "");
            if (!user.matches("[A-Za-z0-9._@+-]*")) throw s.error("user", "expected a user name (letters, digits, . _ @ + -)");
            double rejectScore = s.number("reject_score", 10);
            double flagScore = s.number("flag_score", 5);
            if (flagScore > rejectScore) throw s.error("flag_score", "must not be higher than reject_score (" + rejectScore + ")");
            String subjectTag = s.string("subject_tag", "").strip();
            if (subjectTag.matches(".*[\\r\\n].*")) throw s.error("subject_tag", "must be one line");
            String statusHeader = headerName(s, "status_header", "X-Spam-Status");
            String scoreHeader = headerName(s, "score_header", "X-Spam-Score");
            double karmaWeight = s.number("karma_weight", 0);
            OnError onError = OnError.valueOf(s.choice("on_error", "accept", "accept", "tempfail").toUpperCase(Locale.ROOT));
            Authenticated authenticated = Authenticated.valueOf(
                    s.choice("authenticated", "same", "same", "scan_only", "hold").toUpperCase(Locale.ROOT));
            Action action = Action.parse(s.choice("action", "reject", Action.NAMES));

            ScheduledThreadPoolExecutor watchdog = new ScheduledThreadPoolExecutor(1,
                    Thread.ofPlatform().daemon().name("spamassassin-timeout").factory());
            watchdog.setRemoveOnCancelPolicy(true);
            SpamdClient client = new SpamdClient(tcp, socket, timeout, user, watchdog);
            Settings settings = new Settings(rejectScore, flagScore, subjectTag, statusHeader, scoreHeader, karmaWeight,
                    maxSize, onError, authenticated);
            // the score of a verdict is the spamd score times karma_weight, so "score" is not a setting here
            return new SpamAssassinPlugin(client, new CheckPolicy(NAME, action, 0, false), settings, watchdog);
        }
    }

    // ---- settings helpers -------------------------------------------------------------------------


    /** "host:port", "[v6]:port": resolved at each connection, so a name may move. */
    static InetSocketAddress hostPort(PluginSettings s, String key, String value) {
        String host;
        String port;
        if (value.startsWith("[")) {
            int close = value.indexOf("]:");
            if (close < 0) throw s.error(key, "expected \"[address]:port\"");
            host = value.substring(1, close);
            port = value.substring(close + 2);
        } else {
            int colon = value.lastIndexOf(':');
            if (colon <= 0 || value.indexOf(':') != colon) throw s.error(key, "expected \"host:port\" (IPv6: \"[::1]:783\")");
            host = value.substring(0, colon);
            port = value.substring(colon + 1);
        }
        if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535)
            throw s.error(key, "expected a port from 1 to 65535");
        return InetSocketAddress.createUnresolved(host, Integer.parseInt(port));
    }

    private static String headerName(PluginSettings s, String key, String defaultValue) {
        String name = s.string(key, defaultValue);
        if (!name.isEmpty() && !name.matches("[!-9;-~]+"))
            throw s.error(key, "expected a header field name (or \"\" for none)");
        return name;
    }
}
