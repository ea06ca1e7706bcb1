package dev.portcullis.plugins.rspamd;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.Address;
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
import dev.portcullis.plugins.fcrdns.FcrdnsPlugin;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Logger;
import org.apache.james.mime4j.codec.EncoderUtil;

/**
 * Content scanning with rspamd at the end of DATA, before the 250. rspamd scores the message and recommends
 * an action; each recommendation is mapped onto Portcullis's action model by a setting of its own (as
 * {@code spf} does per result): {@code reject} (550 5.7.1), {@code soft reject} and {@code greylist}
 * (451 4.7.1), {@code add header} and {@code rewrite subject} (flag: headers, and rspamd's new subject),
 * {@code no action} (pass). rspamd's milter edits ({@code milter.add_headers} / {@code remove_headers}) are
 * applied to the stored message.
 *
 * Invariants, as for the spamassassin plugin: the message rspamd sees is the one that will be stored (our
 * Received field included); a scanner that is down or slow never refuses mail permanently ({@code on_error});
 * client-sent headers of our status and score names are removed; our own users (authenticated, relay
 * networks) can be scanned without being refused, or have their spam held for review.
 */
public final class RspamdPlugin implements DataPostHook {
    static final String NAME = "rspamd";
    static final String PHASE = "data_post";
    private static final Logger LOG = Logger.getLogger("portcullis.plugin.rspamd");
    private static final Reply UNAVAILABLE = new Reply(451, "4.7.1", "Error: message could not be scanned, try again later");

    /** rspamd's recommendations (its action names, with a space, as /checkv2 writes them). */
    enum Verdict {
        REJECT("reject", true, new Reply(550, "5.7.1", "Error: message content refused as spam")),
        SOFT_REJECT("soft reject", true, new Reply(550, "5.7.1", "Error: message content refused for now, try again later")),
        GREYLIST("greylist", false, new Reply(550, "5.7.1", "Error: greylisted, try again later")),
        REWRITE_SUBJECT("rewrite subject", true, new Reply(550, "5.7.1", "Error: message content refused as spam")),
        ADD_HEADER("add header", true, new Reply(550, "5.7.1", "Error: message content refused as spam")),
        NO_ACTION("no action", false, null);

        final String label;
        /** rspamd considers the message spam: our status header says Yes. */
        final boolean spam;
        /** The permanent form of the refusal when its action refuses; a tempfail action answers its 451 4.7.1 twin. */
        final Reply refusal;

        Verdict(String label, boolean spam, Reply refusal) {
            this.label = label;
            this.spam = spam;
            this.refusal = refusal;
        }

        String setting() { return label.replace(' ', '_'); }

        static Verdict of(String action) {
            String a = action.strip().toLowerCase(Locale.ROOT).replace('_', ' ');
            for (Verdict v : values()) if (v.label.equals(a)) return v;
            return null;
        }
    }

    enum OnError { ACCEPT, TEMPFAIL }

    /** What happens to our own users' spam: the same as anyone's, headers only, or held for review. */
    enum Authenticated { SAME, SCAN_ONLY, HOLD }

    record Settings(String statusHeader, String scoreHeader, double karmaWeight, long maxSize, OnError onError,
                    Authenticated authenticated, boolean milterHeaders, String hostname) {}

    private final RspamdClient client;
    private final Map<Verdict, CheckPolicy> policies;
    private final Settings settings;

    RspamdPlugin(RspamdClient client, Map<Verdict, CheckPolicy> policies, Settings settings) {
        this.client = client;
        this.policies = policies;
        this.settings = settings;
    }

    @Override public String name() { return NAME; }

    @Override public void close() { client.close(); }

    @Override public HookResult onDataPost(DataPostContext ctx) {
        Session session = ctx.session();
        Transaction tx = ctx.tx();
        Message message = ctx.message();
        if (message.size() > settings.maxSize()) {
            session.trace().add(NAME, PHASE, "skip", 0, "not scanned: " + message.size() + " octets > max_size " + settings.maxSize());
            return HookResult.declined();
        }
        RspamdClient.Answer answer;
        try (InputStream in = message.open()) {
            answer = client.check(envelope(session, tx), in.readAllBytes());
        } catch (IOException e) {
            return unavailable(session, tx, e.getMessage());
        }
        if (settings.milterHeaders()) milter(tx, answer);

        Verdict verdict = Verdict.of(answer.action());
        double karma = answer.score() * settings.karmaWeight();
        String reason = reason(answer);
        if (verdict == null) { // an action this version does not know: rspamd's words are recorded, the mail passes
            mark(tx, answer, false);
            session.trace().add(NAME, PHASE, "pass", karma, "unknown action: " + reason);
            return HookResult.declined();
        }
        CheckPolicy policy = policies.get(verdict);
        boolean ownUser = session.authenticatedUser().isPresent() || session.relayClient();
        Authenticated mode = ownUser ? settings.authenticated() : Authenticated.SAME;
        if (verdict == Verdict.NO_ACTION || policy.off()) {
            mark(tx, answer, verdict.spam);
            String off = verdict == Verdict.NO_ACTION ? "" : " (" + verdict.setting() + " = off)";
            policy.pass(session, PHASE, reason + off, karma);
            return HookResult.declined();
        }
        boolean refuses = policy.action() == Action.REJECT || policy.action() == Action.TEMPFAIL
                || policy.action() == Action.DISCONNECT;
        if (refuses && mode != Authenticated.SAME) {
            if (verdict == Verdict.GREYLIST) { // greylisting our own user's mail helps nobody
                mark(tx, answer, false);
                policy.pass(session, PHASE, reason + " (own user: not greylisted)", karma);
                return HookResult.declined();
            }
            flagged(tx, verdict, answer);
            if (mode == Authenticated.HOLD) {
                tx.notes().put(Transaction.HOLD, NAME + ": " + verdict.label + ", score " + format(answer.score()));
                session.trace().add(NAME, PHASE, "hold", karma, reason);
            } else {
                session.trace().add(NAME, PHASE, "flag", karma, reason + " (own user: scan_only)");
            }
            return HookResult.declined();
        }
        HookResult result = policy.fail(session, PHASE, verdict.refusal, reason, karma);
        if (result instanceof HookResult.Declined) flagged(tx, verdict, answer); // the action for it is "flag"
        return result;
    }

    private void flagged(Transaction tx, Verdict verdict, RspamdClient.Answer answer) {
        mark(tx, answer, verdict.spam);
        if (verdict == Verdict.REWRITE_SUBJECT && answer.subject() != null && !answer.subject().isBlank())
            tx.replaceHeader("Subject", encoded(answer.subject()));
    }

    /** rspamd writes the new subject decoded: non-ASCII goes back into RFC 2047 encoded words. */
    static String encoded(String subject) {
        String clean = subject.replaceAll("[\\x00-\\x1f\\x7f]", " ");
        return EncoderUtil.encodeIfNecessary(clean, EncoderUtil.Usage.TEXT_TOKEN, "Subject: ".length())
                .replaceAll("\\r\\n[ \\t]", " ");
    }

    /** The envelope as rspamd's protocol names it. */
    List<Map.Entry<String, String>> envelope(Session session, Transaction tx) {
        List<Map.Entry<String, String>> h = new ArrayList<>();
        h.add(Map.entry("IP", session.remoteAddress().getHostAddress()));
        if (session.helo() != null) h.add(Map.entry("Helo", session.helo()));
        Address from = tx.sender();
        h.add(Map.entry("From", from.isNull() ? "<>" : from.mailbox()));
        for (Address rcpt : tx.recipients()) h.add(Map.entry("Rcpt", rcpt.mailbox()));
        session.authenticatedUser().ifPresent(u -> h.add(Map.entry("User", u)));
        if (tx.queueId() != null) h.add(Map.entry("Queue-Id", tx.queueId()));
        session.notes().get(FcrdnsPlugin.VERIFIED_NAME).ifPresent(name -> h.add(Map.entry("Hostname", name)));
        h.add(Map.entry("MTA-Name", settings.hostname()));
        return h;
    }

    /** rspamd's own header edits (its milter_headers module): removals first, as its milter does. */
    private static void milter(Transaction tx, RspamdClient.Answer answer) {
        for (var e : answer.removeHeaders().entrySet()) {
            try {
                tx.removeHeader(e.getKey(), e.getValue());
            } catch (IllegalArgumentException badName) {
                LOG.fine(() -> "rspamd asked to remove a header with a bad name: " + e.getKey());
            }
        }
        for (var e : answer.addHeaders().entrySet()) {
            for (String value : e.getValue()) {
                try {
                    tx.addHeader(e.getKey(), value);
                } catch (IllegalArgumentException badName) {
                    LOG.fine(() -> "rspamd asked to add a header with a bad name: " + e.getKey());
                }
            }
        }
    }

    /** rspamd down, slow or confused: never a permanent refusal (DESIGN habit 5), never held against the client. */
    private HookResult unavailable(Session session, Transaction tx, String why) {
        LOG.warning(() -> "rspamd at " + client.uri() + " unavailable (session " + session.id() + ", " + tx.queueId()
                + "): " + why + "; " + (settings.onError() == OnError.TEMPFAIL ? "answering 451" : "accepting unscanned"));
        if (settings.onError() == OnError.TEMPFAIL) {
            session.trace().add(NAME, PHASE, "skip", 0, "scanner unavailable: " + why + "; on_error = tempfail");
            return new HookResult.DenySoft(UNAVAILABLE, false);
        }
        session.trace().add(NAME, PHASE, "skip", 0, "scanner unavailable: " + why + "; accepted unscanned");
        if (!settings.statusHeader().isEmpty()) {
            tx.removeHeader(settings.statusHeader(), 0);
            tx.addHeader(settings.statusHeader(), "Unknown (scanner unavailable)");
        }
        if (!settings.scoreHeader().isEmpty()) tx.removeHeader(settings.scoreHeader(), 0);
        return HookResult.declined();
    }

    /** Our status and score headers in place of any the client sent. */
    private void mark(Transaction tx, RspamdClient.Answer a, boolean spam) {
        if (!settings.statusHeader().isEmpty()) {
            tx.removeHeader(settings.statusHeader(), 0);
            tx.addHeader(settings.statusHeader(), (spam ? "Yes" : "No") + ", score=" + format1(a.score())
                    + (Double.isNaN(a.required()) ? "" : " required=" + format1(a.required()))
                    + " action=" + a.action().strip().replace(' ', '_').replaceAll("[^!-~]", "?")
                    + " tests=" + tests(a.symbols()));
        }
        if (!settings.scoreHeader().isEmpty()) {
            tx.removeHeader(settings.scoreHeader(), 0);
            tx.addHeader(settings.scoreHeader(), format1(a.score()));
        }
    }

    static String tests(List<String> symbols) {
        if (symbols.isEmpty()) return "none";
        StringBuilder sb = new StringBuilder();
        for (String s : symbols) {
            String clean = s.replaceAll("[^!-~]", "?");
            if (sb.length() + clean.length() > 800) return sb.append(",...").toString();
            if (!sb.isEmpty()) sb.append(',');
            sb.append(clean);
        }
        return sb.toString();
    }

    private static String reason(RspamdClient.Answer a) {
        String symbols = String.join(",", a.symbols());
        if (symbols.length() > 200) symbols = symbols.substring(0, 200) + "...";
        return "action \"" + a.action() + "\" score " + format(a.score())
                + (Double.isNaN(a.required()) ? "" : " required " + format(a.required()))
                + " tests=" + (symbols.isEmpty() ? "none" : symbols)
                + (a.smtpMessage() == null ? "" : " message=\"" + a.smtpMessage() + "\"");
    }

    static String format(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : String.format(Locale.ROOT, "%.2f", d);
    }

    static String format1(double d) {
        String s = String.format(Locale.ROOT, "%.1f", d);
        return s.equals("-0.0") ? "0.0" : s;
    }

    /** Found by ServiceLoader under the name "rspamd". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings s, ServerServices services) {
            URI uri = uri(s, s.string("address", "127.0.0.1:11333"));
            Duration timeout = s.duration("timeout", Duration.ofSeconds(30));
            if (timeout.isZero() || timeout.isNegative()) throw s.error("timeout", "must be longer than zero");
            long maxSize = s.size("max_size", 20L << 20);
            Map<Verdict, CheckPolicy> policies = new EnumMap<>(Verdict.class);
            policies.put(Verdict.REJECT, policy(s, Verdict.REJECT, Action.REJECT));
            policies.put(Verdict.SOFT_REJECT, policy(s, Verdict.SOFT_REJECT, Action.TEMPFAIL));
            policies.put(Verdict.GREYLIST, policy(s, Verdict.GREYLIST, Action.TEMPFAIL));
            policies.put(Verdict.REWRITE_SUBJECT, policy(s, Verdict.REWRITE_SUBJECT, Action.FLAG));
            policies.put(Verdict.ADD_HEADER, policy(s, Verdict.ADD_HEADER, Action.FLAG));
            policies.put(Verdict.NO_ACTION, new CheckPolicy(NAME, Action.OFF, 0, false));
            String statusHeader = headerName(s, "status_header", "X-Spam-Status");
            String scoreHeader = headerName(s, "score_header", "X-Spam-Score");
            double karmaWeight = s.number("karma_weight", 0);
            OnError onError = OnError.valueOf(s.choice("on_error", "accept", "accept", "tempfail").toUpperCase(Locale.ROOT));
            Authenticated authenticated = Authenticated.valueOf(
                    s.choice("authenticated", "same", "same", "scan_only", "hold").toUpperCase(Locale.ROOT));
            boolean milter = s.bool("milter_headers", true);
            Settings settings = new Settings(statusHeader, scoreHeader, karmaWeight, maxSize, onError, authenticated, milter,
                    services.hostname());
            return new RspamdPlugin(new RspamdClient(uri, timeout), policies, settings);
        }

        /** One action per recommendation: {@code reject = "reject"}, {@code soft_reject = "tempfail"}, ... */
        private static CheckPolicy policy(PluginSettings s, Verdict v, Action defaultAction) {
            Action action = Action.parse(s.choice(v.setting(), defaultAction.label(), Action.NAMES));
            return new CheckPolicy(NAME, action, 0, false);
        }
    }

    // ---- settings helpers -------------------------------------------------------------------------


    /** "host:port" or "[v6]:port" of rspamd's normal worker, as the /checkv2 URL. */
    static URI uri(PluginSettings s, String value) {
        String host;
        String port;
        if (value.startsWith("[")) {
            int close = value.indexOf("]:");
            if (close < 0) throw s.error("address", "expected \"[address]:port\"");
            host = value.substring(0, close + 1);
            port = value.substring(close + 2);
        } else {
            int colon = value.lastIndexOf(':');
            if (colon <= 0 || value.indexOf(':') != colon)
                throw s.error("address", "expected \"host:port\" (IPv6: \"[::1]:11333\")");
            host = value.substring(0, colon);
            port = value.substring(colon + 1);
        }
        if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535)
            throw s.error("address", "expected a port from 1 to 65535");
        if (!host.matches("\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+")) throw s.error("address", "expected a host name or IP address");
        try {
            return new URI("http://" + host + ":" + port + "/checkv2");
        } catch (java.net.URISyntaxException e) {
            throw s.error("address", "not usable in a URL: " + e.getMessage());
        }
    }

    private static String headerName(PluginSettings s, String key, String defaultValue) {
        String name = s.string(key, defaultValue);
        if (!name.isEmpty() && !name.matches("[!-9;-~]+"))
            throw s.error(key, "expected a header field name (or \"\" for none)");
        return name;
    }
}
