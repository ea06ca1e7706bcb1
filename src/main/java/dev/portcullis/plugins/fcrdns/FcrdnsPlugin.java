package dev.portcullis.plugins.fcrdns;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
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
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Forward-confirmed reverse DNS: the client's PTR names (at most {@link #MAX_NAMES}) are looked up forward
 * (A for an IPv4 client, AAAA for IPv6) and the client passes when one of them resolves back to its
 * address; that name goes into the {@link #VERIFIED_NAME} session note for other plugins. Started at
 * pre_connect, joined at connect.
 *
 * <p>Invariant (DESIGN habit 5): only facts fail the check, NXDOMAIN/NODATA for the PTR and forward answers
 * that do not contain the address; a timeout or SERVFAIL anywhere that could have changed the outcome is a
 * skip, or a 4xx when {@code tempfail_on_dns_error} is set, never a 5xx.
 */
public final class FcrdnsPlugin implements PreConnectHook, ConnectHook {
    static final String NAME = "fcrdns";
    /** As SPF's ptr mechanism (RFC 7208 5.5): ten names is more than any honest host has. */
    static final int MAX_NAMES = 10;

    /** The client's forward-confirmed host name, set at connect when the check passed. */
    public static final NoteKey<String> VERIFIED_NAME = NoteKey.of("fcrdns-verified-name", String.class);

    private static final NoteKey<Pending> PENDING = NoteKey.of("fcrdns-pending", Pending.class);

    /** DNS_ERROR: the PTR lookup failed; FORWARD_ERROR: PTR names exist, but no answer could confirm one. */
    enum Kind { PASS, NO_PTR, MISMATCH, DNS_ERROR, FORWARD_ERROR }

    /** The outcome of the procedure: for PASS {@code name} is the confirmed name. */
    record Outcome(Kind kind, String name, String reason) {}

    record Pending(long startNanos, CompletableFuture<Outcome> outcome) {}

    private final CheckPolicy policy;
    private final CheckPolicy dnsErrorPolicy;
    private final Dns dns;
    private final Duration timeout;
    private final boolean ptrOnly;

    FcrdnsPlugin(CheckPolicy policy, CheckPolicy dnsErrorPolicy, Dns dns, Duration timeout, boolean ptrOnly) {
        this.policy = policy;
        this.dnsErrorPolicy = dnsErrorPolicy;
        this.dns = dns;
        this.timeout = timeout;
        this.ptrOnly = ptrOnly;
    }

    @Override public String name() { return NAME; }

    @Override public void onPreConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off() || CheckPolicy.exempt(session)) return;
        InetAddress client = session.remoteAddress();
        session.notes().put(PENDING, new Pending(System.nanoTime(), dns.start(() -> resolve(dns, client))));
    }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Session session = ctx.session();
        if (policy.off()) return HookResult.declined();
        var pending = session.notes().get(PENDING);
        if (pending.isEmpty()) return HookResult.declined();
        session.notes().remove(PENDING);

        Outcome outcome = await(pending.get());
        if (outcome.kind() == Kind.PASS) session.notes().put(VERIFIED_NAME, outcome.name());
        if (CheckPolicy.exempt(session)) return HookResult.declined(); // e.g. a DNSWL vouched at connect

        String ip = session.remoteAddress().getHostAddress();
        return switch (outcome.kind()) {
            case PASS -> {
                policy.pass(session, "connect", outcome.reason(), 0);
                yield HookResult.declined();
            }
            case NO_PTR -> policy.fail(session, "connect",
                    new Reply(550, "5.7.25", "Client host rejected: cannot find your reverse hostname, [" + ip + "]"),
                    outcome.reason());
            case MISMATCH, FORWARD_ERROR -> {
                if (ptrOnly) {
                    policy.pass(session, "connect", outcome.reason() + " (require = ptr)", 0);
                    yield HookResult.declined();
                }
                if (outcome.kind() == Kind.FORWARD_ERROR) yield dnsError(session, ip, outcome);
                yield policy.fail(session, "connect",
                        new Reply(550, "5.7.25", "Client host rejected: cannot find your hostname, [" + ip + "]"),
                        outcome.reason());
            }
            case DNS_ERROR -> dnsError(session, ip, outcome);
        };
    }

    /** Never a permanent failure: a skip, or a 4xx when configured. */
    private HookResult dnsError(Session session, String ip, Outcome outcome) {
        if (dnsErrorPolicy == null) {
            policy.skip(session, "connect", outcome.reason());
            return HookResult.declined();
        }
        return dnsErrorPolicy.fail(session, "connect",
                new Reply(451, "4.7.25", "Client host rejected: cannot find your hostname, [" + ip + "]"), outcome.reason());
    }

    private Outcome await(Pending p) {
        try {
            return Dns.await(p.outcome(), p.startNanos() + timeout.toNanos());
        } catch (TimeoutException e) {
            return new Outcome(Kind.DNS_ERROR, null, "no answer within " + timeout.toMillis() + "ms");
        } catch (ExecutionException e) {
            return new Outcome(Kind.DNS_ERROR, null, "lookup failed: " + e.getCause());
        }
    }

    /**
     * The FCrDNS procedure (RFC 8601 3, "iprev"): PTR names, then each name's addresses of the client's
     * family, in parallel. Blocking; started with {@link Dns#start} (from the cache at once, or on its own
     * virtual thread).
     */
    static Outcome resolve(Dns dns, InetAddress client) {
        String ip = client.getHostAddress();
        DnsAnswer<String> ptr = dns.ptr(client);
        if (ptr.isTemporaryFailure()) return new Outcome(Kind.DNS_ERROR, null, "PTR lookup for " + ip + " failed (timeout or server failure)");
        if (!ptr.found()) return new Outcome(Kind.NO_PTR, null, "no PTR record for " + ip);
        Set<String> unique = new LinkedHashSet<>();
        for (String n : ptr.records()) if (unique.size() < MAX_NAMES) unique.add(n.toLowerCase(Locale.ROOT));
        List<String> names = List.copyOf(unique);
        // the first name is looked up on this thread, any others alongside on their own (most hosts have one)
        List<CompletableFuture<DnsAnswer<InetAddress>>> forward = new ArrayList<>();
        forward.add(null);
        for (String n : names.subList(1, names.size())) forward.add(dns.start(() -> dns.addresses(n, client)));
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            DnsAnswer<InetAddress> a = i == 0 ? dns.addresses(names.getFirst(), client) : forward.get(i).join();
            if (a.isTemporaryFailure()) failed.add(names.get(i));
            else if (a.records().stream().anyMatch(x -> Arrays.equals(x.getAddress(), client.getAddress())))
                return new Outcome(Kind.PASS, names.get(i), "confirmed " + names.get(i));
        }
        if (!failed.isEmpty())
            return new Outcome(Kind.FORWARD_ERROR, null, "forward lookup of " + String.join(", ", failed) + " failed (timeout or server failure)");
        return new Outcome(Kind.MISMATCH, null, "PTR " + String.join(", ", names) + " does not resolve back to " + ip);
    }

    /** Found by ServiceLoader under the name "fcrdns". */
    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            CheckPolicy policy = CheckPolicy.read(settings, NAME, Action.FLAG, 2.0, true);
            boolean ptrOnly = settings.choice("require", "fcrdns", "fcrdns", "ptr").equals("ptr");
            Duration timeout = settings.duration("timeout", Duration.ofSeconds(5));
            if (timeout.isNegative() || timeout.isZero()) throw settings.error("timeout", "must be positive");
            boolean tempfail = settings.bool("tempfail_on_dns_error", false);
            CheckPolicy dnsError = tempfail
                    ? new CheckPolicy(NAME, Action.TEMPFAIL, 0, policy.deferToRcpt())
                    : null;
            return new FcrdnsPlugin(policy, dnsError, services.dns(), timeout, ptrOnly);
        }
    }
}
