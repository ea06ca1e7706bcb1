package dev.portcullis.plugins.dnsbl;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.NoteKey;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.PreConnectHook;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;
import dev.portcullis.hook.Session;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * DNS blocklists (rblsmtpd's job, RFC 5782) with postscreen's weighted zones: every zone is asked at
 * pre_connect, in parallel; the answers are joined at connect, where the weights of the listing entries are
 * summed and compared with {@code threshold}. The refusal is generic (554 5.7.1, optionally quoting the
 * zone's sanitised TXT record); which zone said what goes to the decision trace.
 *
 * <p>Invariants: a DNS timeout or an error answer (127.255.255.0/24, outside 127.0.0.0/8) is a skip, never
 * a listing; a zone failing the RFC 5782 test entries does not count; the exemption (authenticated, relay or
 * allow networks, DNSWL) is checked when deciding, so a dnswl plugin listed earlier in the chain has already
 * had its say.
 */
public final class DnsblPlugin implements PreConnectHook, ConnectHook {
    static final String NAME = "dnsbl";
    static final String DEFAULT_REPLY = "Service unavailable; client [%{ip}] blocked using %{zone}";

    private final NoteKey<ZoneChecker.Pending> pendingKey = NoteKey.of("dnsbl-pending", ZoneChecker.Pending.class);
    private final CheckPolicy policy;
    private final ZoneChecker checker;
    private final double threshold;
    private final String replyText;
    private final boolean quoteTxt;

    DnsblPlugin(CheckPolicy policy, ZoneChecker checker, double threshold, String replyText, boolean quoteTxt) {
        this.policy = policy;
        this.checker = checker;
        this.threshold = threshold;
        this.replyText = replyText;
        this.quoteTxt = quoteTxt;
    }

    @Override public String name() { return NAME; }

    @Override public void onPreConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off() || CheckPolicy.exempt(session)) return;
        session.notes().put(pendingKey, checker.start(session.remoteAddress()));
    }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off()) return HookResult.declined();
        var pending = session.notes().get(pendingKey);
        if (pending.isEmpty()) return HookResult.declined();
        session.notes().remove(pendingKey);
        if (CheckPolicy.exempt(session)) return HookResult.declined(); // e.g. a DNSWL vouched at connect

        ZoneChecker.Result result = checker.join(pending.get());
        for (String s : result.skipped()) policy.skip(session, "connect", s);
        if (result.listings().isEmpty()) {
            if (result.skipped().size() < result.zones())
                policy.pass(session, "connect", "not listed", 0);
            return HookResult.declined();
        }
        double weight = result.weight();
        String reason = "listed: " + result.describeListings();
        if (result.listings().size() > 1) reason += "; sum " + weight;
        if (weight < threshold) {
            policy.pass(session, "connect", reason + "; below threshold " + threshold, weight);
            return HookResult.declined();
        }
        ZoneChecker.Listing first = result.listings().getFirst();
        Reply reply = new Reply(554, "5.7.1", replyText(session, first));
        return policy.fail(session, "connect", reply, reason, weight);
    }

    /** The template with %{ip}, %{zone} and %{txt} replaced in one pass (a TXT cannot smuggle a placeholder). */
    String replyText(Session session, ZoneChecker.Listing listing) {
        String txt = quoteTxt && listing.txt() != null ? listing.txt() : "";
        String text = expand(replyText, session.remoteAddress().getHostAddress(), listing.spec().zone(), txt);
        if (!txt.isEmpty() && !replyText.contains("%{txt}")) text = text + "; " + txt;
        return text;
    }

    static String expand(String template, String ip, String zone, String txt) {
        StringBuilder sb = new StringBuilder(template.length() + 64);
        int i = 0;
        while (i < template.length()) {
            if (template.startsWith("%{ip}", i)) { sb.append(ip); i += 5; }
            else if (template.startsWith("%{zone}", i)) { sb.append(zone); i += 7; }
            else if (template.startsWith("%{txt}", i)) { sb.append(txt); i += 6; }
            else sb.append(template.charAt(i++));
        }
        return sb.toString();
    }

    /** Checks a reply template: printable ASCII, known placeholders only. */
    static String validTemplate(PluginSettings settings, String key, String template) {
        if (template.isBlank()) throw settings.error(key, "must not be empty");
        if (template.length() > 400) throw settings.error(key, "longer than 400 characters");
        for (int i = 0; i < template.length(); i++) {
            char c = template.charAt(i);
            if (c < 0x20 || c > 0x7e) throw settings.error(key, "only printable ASCII is allowed in an SMTP reply");
        }
        String rest = template.replace("%{ip}", "").replace("%{zone}", "").replace("%{txt}", "");
        int at = rest.indexOf("%{");
        if (at >= 0) throw settings.error(key, "unknown placeholder " + rest.substring(at, Math.min(rest.length(), at + 12))
                + "; known: %{ip}, %{zone}, %{txt}");
        return template;
    }

    /** The zones setting: each entry parsed, errors naming the key (and the file and line). */
    static List<ZoneSpec> zones(PluginSettings settings, boolean required) {
        List<ZoneSpec> specs = new ArrayList<>();
        for (String entry : settings.strings("zones", List.of())) {
            try {
                specs.add(ZoneSpec.parse(entry));
            } catch (IllegalArgumentException e) {
                throw settings.error("zones", e.getMessage());
            }
        }
        if (specs.isEmpty() && required) throw settings.error("zones", "no zones configured (set action = \"off\" to disable the check)");
        return specs;
    }

    static Duration timeout(PluginSettings settings) {
        Duration t = settings.duration("timeout", Duration.ofSeconds(5));
        if (t.isNegative() || t.isZero()) throw settings.error("timeout", "must be positive");
        return t;
    }

    /** Found by ServiceLoader under the name "dnsbl". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            CheckPolicy policy = CheckPolicy.read(settings, NAME, Action.REJECT, 1.0, true);
            List<ZoneSpec> specs = zones(settings, !policy.off());
            double threshold = settings.number("threshold", 1.0);
            if (!(threshold > 0)) throw settings.error("threshold", "must be greater than 0");
            String reply = validTemplate(settings, "reply_text", settings.string("reply_text", DEFAULT_REPLY));
            boolean quoteTxt = settings.bool("quote_txt", false);
            Duration timeout = timeout(settings);
            boolean checkZones = settings.bool("check_zones", true);
            ZoneHealth health = new ZoneHealth(NAME, services.dns(), services.clock(), checkZones);
            ZoneChecker checker = new ZoneChecker(specs, policy.score(), services.dns(), health, quoteTxt, timeout);
            return new DnsblPlugin(policy, checker, threshold, reply, quoteTxt);
        }
    }
}
