package dev.portcullis.plugins.sender;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ServerServices;

/**
 * Sender sanity: the MAIL FROM domain must be able to receive replies — it has an MX, or failing that an
 * A or AAAA record (RFC 5321 5.1) — and must not publish a null MX (RFC 7505: "this domain sends no mail
 * worth answering"). A bounce to such a sender could never be delivered. DNS trouble is a 4xx, never a 5xx.
 * The null sender and trusted clients are not checked.
 */
public final class SenderPlugin implements MailHook {
    private final Dns dns;
    private final CheckPolicy policy;

    SenderPlugin(Dns dns, CheckPolicy policy) {
        this.dns = dns;
        this.policy = policy;
    }

    @Override public String name() { return "sender"; }

    @Override public HookResult onMail(MailContext ctx) {
        if (policy.off() || ctx.sender().isNull() || CheckPolicy.exempt(ctx.session())) return HookResult.declined();
        String domain = ctx.sender().domain();
        if (domain.startsWith("[")) return HookResult.declined(); // an address literal needs no DNS
        Reply refusal = new Reply(550, "5.1.8", "Error: sender address rejected: domain cannot receive mail");
        DnsAnswer<MxHost> mx = dns.mx(domain);
        switch (mx.status()) {
            case OK -> {
                boolean nullMx = mx.records().size() == 1 && mx.records().getFirst().host().isEmpty();
                if (nullMx) return policy.fail(ctx.session(), "mail", refusal, domain + " has a null MX (RFC 7505)");
                policy.pass(ctx.session(), "mail", domain + " has MX", 0);
                return HookResult.declined();
            }
            case TEMPFAIL -> { return temporary(ctx, domain); }
            case NXDOMAIN -> { return policy.fail(ctx.session(), "mail", refusal, domain + " does not exist"); }
            case NODATA -> { /* fall through to A / AAAA */ }
        }
        DnsAnswer<java.net.InetAddress> a = dns.a(domain);
        if (a.found()) { policy.pass(ctx.session(), "mail", domain + " has A", 0); return HookResult.declined(); }
        DnsAnswer<java.net.InetAddress> aaaa = dns.aaaa(domain);
        if (aaaa.found()) { policy.pass(ctx.session(), "mail", domain + " has AAAA", 0); return HookResult.declined(); }
        if (a.isTemporaryFailure() || aaaa.isTemporaryFailure()) return temporary(ctx, domain);
        return policy.fail(ctx.session(), "mail", refusal, domain + " has no MX, A or AAAA");
    }

    private HookResult temporary(MailContext ctx, String domain) {
        policy.skip(ctx.session(), "mail", "DNS error looking up " + domain);
        if (policy.action() == Action.FLAG) return HookResult.declined();
        return HookResult.denySoft(451, "4.1.8", "Error: sender domain lookup failed, try again later");
    }

    /** Found by ServiceLoader under the name "sender". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return "sender"; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            return new SenderPlugin(services.dns(), CheckPolicy.read(settings, "sender", Action.REJECT, 3, false));
        }
    }
}
