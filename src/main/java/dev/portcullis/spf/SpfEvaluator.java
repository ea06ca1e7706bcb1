package dev.portcullis.spf;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * SPF: check_host() of RFC 7208 section 4, over the server's blocking {@link Dns}.
 *
 * <p>Invariants, per check (one {@link #check} call, include and redirect recursion included):
 * <ul>
 * <li><b>Lookup limit (4.6.4).</b> Each include, a, mx, ptr and exists term that is <em>reached</em>, and each
 *     redirect that is followed, costs one from a budget of 10; the 11th is a permerror. Terms after a match
 *     are never reached, so never counted. The record's own TXT lookup, the address lookups of MX hosts and
 *     PTR names, %{p} and the exp= lookup cost nothing.
 * <li><b>Per-term limits (4.6.4).</b> An mx term with more than 10 MX records is a permerror before any
 *     address lookup; a ptr term (and %{p}) validates the first 10 PTR names and ignores the rest.
 * <li><b>Void lookups (4.6.4).</b> A term's own query (A/AAAA for a, MX for mx, PTR for ptr, A for exists)
 *     answering NXDOMAIN or no records costs one from a budget of 2; the 3rd is a permerror. A target that no
 *     query can be made of (an empty or over-long label after macro expansion) counts as NXDOMAIN. The exp=
 *     lookup never counts (it happens after the result is known).
 * <li><b>temperror versus permerror.</b> temperror means only "DNS could not answer" (DnsAnswer TEMPFAIL:
 *     timeout, SERVFAIL) for a lookup the result depends on, or the overall time limit (4.6.4, default 20 s)
 *     ran out; it must never become a permanent rejection. Everything that is the domain's fault (syntax,
 *     limits, several records, include or redirect to a domain without a record) is a permerror. DNS trouble
 *     in what is optional never is an error: a PTR name that cannot be validated is skipped, a PTR lookup
 *     that fails makes ptr not match (5.5), an exp= that fails is dropped (6.2).
 * <li><b>Whole records are parsed before evaluation</b>, so a syntax error anywhere is a permerror (4.6).
 * <li><b>Nothing escapes {@link #check}</b> but a verdict (an unexpected exception is a logged temperror), and nothing from DNS or the client reaches a verdict
 *     or a header unescaped ({@link SpfVerdict} keeps printable ASCII; {@link #receivedSpfHeader} quotes).
 * </ul>
 */
public final class SpfEvaluator {
    private static final Logger LOG = Logger.getLogger("portcullis.spf");
    static final int MAX_DNS_TERMS = 10;
    static final int MAX_VOID_LOOKUPS = 2;
    static final int MAX_MX = 10;
    static final int MAX_PTR = 10;

    private final Dns dns;
    private final String receivingHost;
    private final Clock clock;
    private final Duration timeLimit;

    /**
     * @param receivingHost this server's name, for %{r} in explanations and receiver= in Received-SPF
     */
    public SpfEvaluator(Dns dns, String receivingHost) {
        this(dns, receivingHost, Clock.systemUTC(), Duration.ofSeconds(20));
    }

    SpfEvaluator(Dns dns, String receivingHost, Clock clock, Duration timeLimit) {
        this.dns = Objects.requireNonNull(dns, "dns");
        this.receivingHost = receivingHost == null || receivingHost.isBlank() ? "unknown" : receivingHost;
        this.clock = clock;
        this.timeLimit = timeLimit;
    }

    /**
     * check_host() for the MAIL FROM identity, or, for the null sender, the HELO identity
     * ({@code postmaster@helo}, RFC 7208 2.4); calling it with an empty {@code mailFrom} is the HELO check of 2.3.
     *
     * @param ip       the SMTP client; an IPv4-mapped IPv6 address is treated as IPv4
     * @param mailFrom the reverse-path without angle brackets, "" (or "<>") for the null sender
     * @param helo     the HELO/EHLO argument as the client sent it
     */
    public SpfVerdict check(InetAddress ip, String mailFrom, String helo) {
        Objects.requireNonNull(ip, "ip");
        Identity id = Identity.of(mailFrom, helo);
        if (!Names.isValidDomain(id.domain())) {
            return new SpfVerdict(SpfResult.NONE, null, "not a domain an SPF record can be published at", id.domain());
        }
        Evaluation ev = new Evaluation(Ip.normalize(ip), id);
        try {
            Outcome o = ev.checkHost(id.domain());
            return new SpfVerdict(o.result(), ev.explanation(o), o.reason(), id.domain());
        } catch (SpfException e) {
            return new SpfVerdict(e.result(), null, e.getMessage(), id.domain());
        } catch (Dns.NotCached e) {
            throw e; // Dns.start's cache-only try: not an error, the check is run again on its own thread
        } catch (RuntimeException e) {
            // a bug here or in the resolver: answer "try later", never a permanent rejection
            LOG.log(Level.WARNING, "SPF check of " + SpfVerdict.printable(id.domain(), 300) + " failed", e);
            return new SpfVerdict(SpfResult.TEMPERROR, null, "internal error: " + e, id.domain());
        }
    }

    /** {@link #check}, started with {@link Dns#start}: at once when the cache holds every answer it needs. */
    public CompletableFuture<SpfVerdict> start(InetAddress ip, String mailFrom, String helo) {
        return dns.start(() -> check(ip, mailFrom, helo));
    }

    /**
     * The value of a {@code Received-SPF:} header field (RFC 7208 9.1) for a verdict of {@link #check} with the
     * same arguments: the result, a comment, and client-ip, envelope-from, helo, receiver, identity and
     * mechanism (or problem) as key=value pairs. One line, no CR or LF whatever the input; every value is a
     * dot-atom or a quoted-string, and the caller prepends "Received-SPF: " and folds if it likes.
     */
    public String receivedSpfHeader(SpfVerdict v, InetAddress ip, String mailFrom, String helo) {
        return ReceivedSpf.format(v, Ip.normalize(ip), Identity.of(mailFrom, helo), mailFrom, receivingHost);
    }

    /** Expands a macro string as a check of these arguments would in the context of {@code domain} (tests of 7). */
    String expand(String macroString, boolean explanation, InetAddress ip, String mailFrom, String helo, String domain)
            throws SpfException {
        Macro.check(macroString, explanation);
        Evaluation ev = new Evaluation(Ip.normalize(ip), Identity.of(mailFrom, helo));
        return Macro.expand(macroString, explanation, ev.values(domain));
    }

    /**
     * The identity checked (4.3, 2.4): the sender's local-part ("postmaster" when empty) and domain; for the
     * null sender {@code postmaster@helo}. {@code helo} is the HELO argument as sent, for %{h}.
     */
    record Identity(String localPart, String domain, String helo, boolean isHelo) {
        static Identity of(String mailFrom, String helo) {
            String from = mailFrom == null || mailFrom.equals("<>") ? "" : mailFrom;
            String h = helo == null ? "" : helo;
            if (from.isEmpty()) return new Identity("postmaster", Names.stripDot(h), h, true);
            int at = from.lastIndexOf('@');
            String local = at < 0 ? "" : from.substring(0, at);
            return new Identity(local.isEmpty() ? "postmaster" : local, Names.stripDot(from.substring(at + 1)), h, false);
        }

        String sender() { return localPart + "@" + domain; }
    }

    /** The result of check_host() for one domain, with what the explanation needs. */
    private record Outcome(SpfResult result, String reason, String domain, String exp) {}

    /** The mutable state of one check: the counters of the limits, the deadline and the PTR cache. */
    private final class Evaluation {
        private final InetAddress ip;
        private final Identity id;
        private final long deadline;
        private int dnsTerms;
        private int voids;
        private DnsAnswer.Status ptrStatus;
        private List<String> validatedNames;

        Evaluation(InetAddress ip, Identity id) {
            this.ip = ip;
            this.id = id;
            this.deadline = System.nanoTime() + timeLimit.toNanos();
        }

        Outcome checkHost(String domain) throws SpfException {
            DnsAnswer<String> txt = lookup(() -> dns.txt(domain));
            if (txt.isTemporaryFailure()) throw SpfException.temp("DNS failure looking up TXT " + domain);
            List<String> records = new ArrayList<>();
            for (String t : txt.records()) {
                String text = t;
                if (SpfRecord.isSpf(text)) records.add(text);
            }
            if (records.isEmpty()) return new Outcome(SpfResult.NONE, "no SPF record at " + domain, domain, null);
            if (records.size() > 1) throw SpfException.perm("more than one SPF record at " + domain);
            SpfRecord record;
            try {
                record = SpfRecord.parseCached(records.getFirst());
            } catch (SpfException e) {
                throw SpfException.perm(domain + ": " + e.getMessage());
            }
            for (SpfRecord.Directive d : record.directives()) {
                if (matches(d, domain)) return new Outcome(d.result(), d.text(), domain, record.exp());
            }
            if (record.redirect() != null && !record.hasAll()) {
                countDnsTerm();
                String target = target(record.redirect(), domain);
                if (target == null || !Names.isValidDomain(target))
                    throw SpfException.perm(domain + ": redirect to a name that is not a domain");
                Outcome o = checkHost(target);
                if (o.result() == SpfResult.NONE) throw SpfException.perm("redirect to " + target + ", which has no SPF record");
                return o; // its exp, not ours (6.2)
            }
            return new Outcome(SpfResult.NEUTRAL, "default", domain, null);
        }

        private boolean matches(SpfRecord.Directive d, String domain) throws SpfException {
            switch (d.kind()) {
                case ALL:
                    return true;
                case IP4:
                case IP6:
                    return Ip.inNetwork(ip.getAddress(), d.network(), d.network().length == 4 ? d.cidr4() : d.cidr6());
                case INCLUDE: {
                    countDnsTerm();
                    String target = target(d.domainSpec(), domain);
                    if (target == null || !Names.isValidDomain(target))
                        throw SpfException.perm(domain + ": " + d.text() + " names no domain");
                    Outcome o = checkHost(target);
                    return switch (o.result()) {
                        case PASS -> true;
                        case FAIL, SOFTFAIL, NEUTRAL -> false;
                        // none is a permerror (5.2); temperror and permerror were thrown and propagate as they are
                        default -> throw SpfException.perm(domain + ": " + d.text() + " found no SPF record");
                    };
                }
                case A: {
                    countDnsTerm();
                    String target = d.domainSpec() == null ? domain : target(d.domainSpec(), domain);
                    if (target == null) { countVoid(); return false; }
                    return anyInNetwork(addresses(target), d);
                }
                case MX:
                    countDnsTerm();
                    return mx(d, d.domainSpec() == null ? domain : target(d.domainSpec(), domain));
                case PTR: {
                    countDnsTerm();
                    String target = d.domainSpec() == null ? domain : target(d.domainSpec(), domain);
                    List<String> names = validatedNames();
                    if (ptrStatus == DnsAnswer.Status.NXDOMAIN || ptrStatus == DnsAnswer.Status.NODATA) countVoid();
                    if (target == null) return false;
                    for (String n : names) if (Names.isAtOrBelow(n, target)) return true;
                    return false;
                }
                case EXISTS: {
                    countDnsTerm();
                    String target = target(d.domainSpec(), domain);
                    if (target == null) { countVoid(); return false; }
                    DnsAnswer<InetAddress> a = lookup(() -> dns.a(target)); // A even for an IPv6 client (5.7)
                    if (a.isTemporaryFailure()) throw SpfException.temp("DNS failure looking up A " + target);
                    if (a.isVoid()) { countVoid(); return false; }
                    return true;
                }
                default:
                    throw new IllegalStateException(d.kind().toString());
            }
        }

        /** 5.4: the MX hosts' addresses, no fallback to the target's own A record when it has no MX. */
        private boolean mx(SpfRecord.Directive d, String target) throws SpfException {
            if (target == null) { countVoid(); return false; }
            DnsAnswer<MxHost> mx = lookup(() -> dns.mx(target));
            if (mx.isTemporaryFailure()) throw SpfException.temp("DNS failure looking up MX " + target);
            if (mx.isVoid()) { countVoid(); return false; }
            if (mx.records().size() > MAX_MX) throw SpfException.perm("more than " + MAX_MX + " MX records for " + target);
            String failed = null;
            for (MxHost host : mx.records()) {
                String name = Names.stripDot(host.host());
                if (name.isEmpty()) continue; // a null MX (RFC 7505) names no host
                DnsAnswer<InetAddress> a = lookup(() -> dns.addresses(name, ip));
                if (a.isTemporaryFailure()) { failed = name; continue; } // a later host may still match
                if (anyInNetwork(a.records(), d)) return true;
            }
            if (failed != null) throw SpfException.temp("DNS failure looking up the address of MX host " + failed);
            return false;
        }

        /** The A or AAAA records of a term's target; a void answer counts against the void limit. */
        private List<InetAddress> addresses(String name) throws SpfException {
            DnsAnswer<InetAddress> a = lookup(() -> dns.addresses(name, ip));
            if (a.isTemporaryFailure()) throw SpfException.temp("DNS failure looking up the address of " + name);
            if (a.isVoid()) countVoid();
            return a.records();
        }

        private boolean anyInNetwork(List<InetAddress> addresses, SpfRecord.Directive d) {
            int prefix = ip instanceof Inet4Address ? d.cidr4() : d.cidr6();
            byte[] client = ip.getAddress();
            for (InetAddress a : addresses) if (Ip.inNetwork(client, a.getAddress(), prefix)) return true;
            return false;
        }

        /**
         * The PTR names of the client whose forward lookup leads back to it (5.5), the first 10 only (4.6.4);
         * looked up once per check. A PTR lookup that fails leaves the list empty; a name whose address lookup
         * fails is skipped.
         */
        private List<String> validatedNames() throws SpfException {
            if (validatedNames != null) return validatedNames;
            DnsAnswer<String> ptr = lookup(() -> dns.ptr(ip));
            List<String> out = new ArrayList<>();
            List<String> names = ptr.records();
            for (String raw : names.subList(0, Math.min(MAX_PTR, names.size()))) {
                String name = Names.stripDot(raw);
                if (name.isEmpty()) continue;
                DnsAnswer<InetAddress> a = lookup(() -> dns.addresses(name, ip));
                for (InetAddress x : a.records()) {
                    if (Arrays.equals(x.getAddress(), ip.getAddress())) {
                        out.add(name);
                        break;
                    }
                }
            }
            ptrStatus = ptr.status();
            validatedNames = List.copyOf(out);
            return validatedNames;
        }

        /** %{p} (7.3): the validated name equal to the domain, else one below it, else any; "unknown" if none. */
        private String validatedName(String domain) throws SpfException {
            List<String> names = validatedNames();
            for (String n : names) if (n.equalsIgnoreCase(domain)) return n;
            for (String n : names) if (Names.isAtOrBelow(n, domain)) return n;
            return names.isEmpty() ? "unknown" : names.getFirst();
        }

        /**
         * 6.2: the TXT record named by exp=, macro-expanded, for a fail. Any trouble (no name, DNS error, not
         * exactly one record, bad syntax, non-ASCII) means no explanation, never another result.
         */
        String explanation(Outcome o) {
            if (o.result() != SpfResult.FAIL || o.exp() == null) return null;
            try {
                String name = target(o.exp(), o.domain());
                if (name == null) return null;
                DnsAnswer<String> txt = lookup(() -> dns.txt(name));
                if (!txt.found() || txt.records().size() != 1) return null;
                String text = txt.records().getFirst();
                Macro.check(text, true);
                String out = Macro.expand(text, true, values(o.domain()));
                return out.isEmpty() ? null : out;
            } catch (SpfException e) {
                return null;
            }
        }

        /** Expands a domain-spec in the context of {@code domain} into the name to query; null if none can be. */
        private String target(String domainSpec, String domain) throws SpfException {
            return Names.queryName(Macro.expand(domainSpec, false, values(domain)));
        }

        Macro.Values values(String domain) {
            return letter -> switch (letter) {
                case 's' -> id.sender();
                case 'l' -> id.localPart();
                case 'o' -> id.domain();
                case 'd' -> domain;
                case 'i' -> Ip.dotted(ip);
                case 'p' -> validatedName(domain);
                case 'v' -> ip instanceof Inet4Address ? "in-addr" : "ip6";
                case 'h' -> id.helo();
                case 'c' -> Ip.readable(ip);
                case 'r' -> receivingHost;
                case 't' -> Long.toString(clock.instant().getEpochSecond());
                default -> throw new IllegalArgumentException("macro letter " + letter);
            };
        }

        private void countDnsTerm() throws SpfException {
            if (++dnsTerms > MAX_DNS_TERMS)
                throw SpfException.perm("more than " + MAX_DNS_TERMS + " DNS-querying terms");
        }

        private void countVoid() throws SpfException {
            if (++voids > MAX_VOID_LOOKUPS) throw SpfException.perm("more than " + MAX_VOID_LOOKUPS + " void lookups");
        }

        private <T> DnsAnswer<T> lookup(Supplier<DnsAnswer<T>> query) throws SpfException {
            if (System.nanoTime() - deadline > 0) throw SpfException.temp("time limit of " + timeLimit.toSeconds() + " s exceeded");
            return query.get();
        }
    }
}
