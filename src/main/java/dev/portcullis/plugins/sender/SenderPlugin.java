package dev.portcullis.plugins.sender;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
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
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Sender sanity: the MAIL FROM domain must be able to receive replies — it has an MX, or failing that an
 * A or AAAA record (RFC 5321 5.1) — and must not publish a null MX (RFC 7505: "this domain sends no mail
 * worth answering"). A bounce to such a sender could never be delivered. DNS trouble is a 4xx, never a 5xx.
 * The null sender and trusted clients are not checked.
 *
 * <p>The lookups start at pre_mail, on their own virtual thread, so they run while the other plugins'
 * (SPF's) do; the mail hook joins them and decides.
 */
public final class SenderPlugin implements PreMailHook, MailHook {
    /** What DNS says about the domain; {@code reason} is the trace text. */
    enum Kind { RECEIVES, NULL_MX, NO_SUCH_DOMAIN, NOTHING, DNS_ERROR }

    record Finding(Kind kind, String reason) {}

    /** The lookup started at pre_mail for this transaction's sender domain. */
    record Pending(String domain, CompletableFuture<Finding> finding) {}

    private static final NoteKey<Pending> PENDING = NoteKey.of("sender-pending", Pending.class);
    private static final Reply REFUSAL = new Reply(550, "5.1.8", "Error: sender address rejected: domain cannot receive mail");

    private final Dns dns;
    private final CheckPolicy policy;

    SenderPlugin(Dns dns, CheckPolicy policy) {
        this.dns = dns;
        this.policy = policy;
    }

    @Override public String name() { return "sender"; }

    @Override public void onPreMail(MailContext ctx) {
        String domain = checkedDomain(ctx);
        if (domain == null) return;
        ctx.tx().notes().put(PENDING, new Pending(domain, dns.start(() -> lookup(domain))));
    }

    @Override public HookResult onMail(MailContext ctx) {
        String domain = checkedDomain(ctx);
        if (domain == null) return HookResult.declined();
        Finding f = ctx.tx().notes().get(PENDING)
                .filter(p -> p.domain().equals(domain))
                .map(p -> p.finding().join())
                .orElseGet(() -> lookup(domain)); // no pre_mail (a hook called on its own)
        ctx.tx().notes().remove(PENDING);
        return switch (f.kind()) {
            case RECEIVES -> {
                policy.pass(ctx.session(), "mail", f.reason(), 0);
                yield HookResult.declined();
            }
            case NULL_MX, NO_SUCH_DOMAIN, NOTHING -> policy.fail(ctx.session(), "mail", REFUSAL, f.reason());
            case DNS_ERROR -> temporary(ctx, f.reason());
        };
    }

    /** The domain to check, or null when this sender is not checked. */
    private String checkedDomain(MailContext ctx) {
        if (policy.off() || ctx.sender().isNull() || CheckPolicy.exempt(ctx.session())) return null;
        String domain = ctx.sender().domain();
        return domain.startsWith("[") ? null : domain; // an address literal needs no DNS
    }

    /** MX first; A, then AAAA only when the domain has no MX records at all. Blocking. */
    Finding lookup(String domain) {
        DnsAnswer<MxHost> mx = dns.mx(domain);
        switch (mx.status()) {
            case OK -> {
                boolean nullMx = mx.records().size() == 1 && mx.records().getFirst().host().isEmpty();
                return nullMx ? new Finding(Kind.NULL_MX, domain + " has a null MX (RFC 7505)")
                        : new Finding(Kind.RECEIVES, domain + " has MX");
            }
            case TEMPFAIL -> { return new Finding(Kind.DNS_ERROR, "DNS error looking up " + domain); }
            case NXDOMAIN -> { return new Finding(Kind.NO_SUCH_DOMAIN, domain + " does not exist"); }
            case NODATA -> { /* fall through to A / AAAA */ }
        }
        DnsAnswer<InetAddress> a = dns.a(domain);
        if (a.found()) return new Finding(Kind.RECEIVES, domain + " has A");
        DnsAnswer<InetAddress> aaaa = dns.aaaa(domain);
        if (aaaa.found()) return new Finding(Kind.RECEIVES, domain + " has AAAA");
        if (a.isTemporaryFailure() || aaaa.isTemporaryFailure()) return new Finding(Kind.DNS_ERROR, "DNS error looking up " + domain);
        return new Finding(Kind.NOTHING, domain + " has no MX, A or AAAA");
    }

    private HookResult temporary(MailContext ctx, String reason) {
        policy.skip(ctx.session(), "mail", reason);
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
