package dev.portcullis.spf;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One parsed SPF record (RFC 7208 4.5, 4.6, 5, 6, ABNF in 12). The whole record is parsed before any term
 * is evaluated, so a syntax error anywhere is a permerror even when an earlier term would have matched
 * (4.6: "syntax errors anywhere in the record MUST be detected").
 *
 * @param directives the mechanisms in order, with their qualifiers
 * @param redirect   the redirect= domain-spec, or null
 * @param exp        the exp= domain-spec, or null
 * @param hasAll     whether an "all" mechanism is present: then redirect is ignored (5.1)
 */
record SpfRecord(List<Directive> directives, String redirect, String exp, boolean hasAll) {

    enum Kind { ALL, INCLUDE, A, MX, PTR, IP4, IP6, EXISTS }

    /**
     * One directive.
     *
     * @param result     what a match yields: the qualifier ("+" when absent)
     * @param domainSpec the target domain-spec of include, a, mx, ptr, exists; null when absent
     * @param cidr4      the IPv4 prefix length of a, mx, ip4 (32 when absent)
     * @param cidr6      the IPv6 prefix length of a, mx, ip6 (128 when absent)
     * @param network    the address of ip4 (4 bytes) or ip6 (16 bytes); null for the others
     * @param text       the term as the record wrote it, for the verdict's reason
     */
    record Directive(SpfResult result, Kind kind, String domainSpec, int cidr4, int cidr6, byte[] network, String text) {}

    private static final Pattern MODIFIER = Pattern.compile("([A-Za-z][A-Za-z0-9_.-]*)=(.*)", Pattern.DOTALL);
    /** [":" domain-spec] [dual-cidr-length]; the domain is matched lazily so a trailing CIDR is split off. */
    private static final Pattern DOMAIN_DUAL_CIDR = Pattern.compile("(?::(.+?))?(?:/([0-9]+))?(?://([0-9]+))?", Pattern.DOTALL);
    private static final Pattern IP_NETWORK = Pattern.compile(":([0-9A-Fa-f:.]+)(?:/([0-9]+))?");

    /** A TXT record is an SPF record if it starts with "v=spf1" (any case) followed by a space or its end (4.5). */
    static boolean isSpf(String txt) {
        return txt.length() >= 6 && txt.regionMatches(true, 0, "v=spf1", 0, 6)
                && (txt.length() == 6 || txt.charAt(6) == ' ');
    }

    /** How many parsed records {@link #parseCached} keeps; past that it starts again from none. */
    static final int CACHED = 1024;
    /**
     * The longest record kept (RFC 7208 3.4 asks records to fit a 512-octet UDP answer; nearly all do): so a
     * sender's own DNS serving huge records cannot fill the heap with them, 1024 at a time.
     */
    static final int CACHED_LENGTH = 512;
    private static final Map<String, SpfRecord> PARSED = new ConcurrentHashMap<>();

    /**
     * {@link #parse}, keeping what parsed: a server meets the same few records again and again (its
     * busiest senders'), and once the DNS answers come from the resolver's cache, parsing was about half of
     * an evaluation (0.9 of the SPF plugin's 1.9 % of the samples, 20 sessions, reused connections). Nothing
     * changes a record after parsing, so one instance serves every evaluation. A record that does not parse
     * is parsed again each time (it is rare, and its permerror must not depend on a cache).
     */
    static SpfRecord parseCached(String record) throws SpfException {
        SpfRecord parsed = PARSED.get(record);
        if (parsed != null) return parsed;
        parsed = parse(record);
        if (record.length() > CACHED_LENGTH) return parsed;
        if (PARSED.size() >= CACHED) PARSED.clear();
        PARSED.put(record, parsed);
        return parsed;
    }

    static int cachedCount() { return PARSED.size(); }

    /** Parses a record that {@link #isSpf} accepted; any syntax error is a permerror. */
    static SpfRecord parse(String record) throws SpfException {
        List<Directive> directives = new ArrayList<>();
        String redirect = null;
        String exp = null;
        boolean hasAll = false;
        // terms are separated by one or more spaces, and only spaces (4.6.1); trailing spaces are allowed (4.5)
        for (String term : record.substring(6).split(" ")) {
            if (term.isEmpty()) continue;
            Matcher m = MODIFIER.matcher(term);
            if (m.matches()) {
                String name = m.group(1).toLowerCase(Locale.ROOT);
                String value = m.group(2);
                switch (name) {
                    case "redirect" -> {
                        if (redirect != null) throw SpfException.perm("redirect= appears twice");
                        redirect = domainSpec(value, term);
                    }
                    case "exp" -> {
                        if (exp != null) throw SpfException.perm("exp= appears twice");
                        exp = domainSpec(value, term);
                    }
                    default -> Macro.check(value, false); // unknown modifiers are ignored, but must parse (6)
                }
                continue;
            }
            Directive d = directive(term);
            hasAll |= d.kind() == Kind.ALL;
            directives.add(d);
        }
        return new SpfRecord(List.copyOf(directives), redirect, exp, hasAll);
    }

    private static Directive directive(String term) throws SpfException {
        SpfResult result = switch (term.charAt(0)) {
            case '+' -> SpfResult.PASS;
            case '-' -> SpfResult.FAIL;
            case '~' -> SpfResult.SOFTFAIL;
            case '?' -> SpfResult.NEUTRAL;
            default -> null;
        };
        String body = result == null ? term : term.substring(1);
        if (result == null) result = SpfResult.PASS;
        int end = 0;
        while (end < body.length() && body.charAt(end) != ':' && body.charAt(end) != '/') end++;
        String name = body.substring(0, end).toLowerCase(Locale.ROOT);
        String rest = body.substring(end);
        Kind kind = switch (name) {
            case "all" -> Kind.ALL;
            case "include" -> Kind.INCLUDE;
            case "a" -> Kind.A;
            case "mx" -> Kind.MX;
            case "ptr" -> Kind.PTR;
            case "ip4" -> Kind.IP4;
            case "ip6" -> Kind.IP6;
            case "exists" -> Kind.EXISTS;
            default -> throw SpfException.perm("unknown mechanism in '" + term + "'");
        };
        return switch (kind) {
            case ALL -> {
                if (!rest.isEmpty()) throw SpfException.perm("'all' takes no argument: '" + term + "'");
                yield new Directive(result, kind, null, 32, 128, null, term);
            }
            case INCLUDE, EXISTS -> {
                if (!rest.startsWith(":")) throw SpfException.perm("'" + name + "' needs ':' and a domain: '" + term + "'");
                yield new Directive(result, kind, domainSpec(rest.substring(1), term), 32, 128, null, term);
            }
            case PTR -> {
                if (rest.isEmpty()) yield new Directive(result, kind, null, 32, 128, null, term);
                if (!rest.startsWith(":")) throw SpfException.perm("'ptr' takes no CIDR length: '" + term + "'");
                yield new Directive(result, kind, domainSpec(rest.substring(1), term), 32, 128, null, term);
            }
            case A, MX -> {
                Matcher m = DOMAIN_DUAL_CIDR.matcher(rest);
                if (!m.matches()) throw SpfException.perm("bad syntax: '" + term + "'");
                String domain = m.group(1) == null ? null : domainSpec(m.group(1), term);
                int cidr4 = cidr(m.group(2), 32, term);
                int cidr6 = cidr(m.group(3), 128, term);
                yield new Directive(result, kind, domain, cidr4, cidr6, null, term);
            }
            case IP4, IP6 -> {
                Matcher m = IP_NETWORK.matcher(rest);
                if (!m.matches()) throw SpfException.perm("bad address: '" + term + "'");
                byte[] net = kind == Kind.IP4 ? Ip.parseIp4(m.group(1)) : Ip.parseIp6(m.group(1));
                if (net == null) throw SpfException.perm("bad address: '" + term + "'");
                int prefix = cidr(m.group(2), net.length * 8, term);
                yield kind == Kind.IP4
                        ? new Directive(result, kind, null, prefix, 128, net, term)
                        : new Directive(result, kind, null, 32, prefix, net, term);
            }
        };
    }

    private static String domainSpec(String spec, String term) throws SpfException {
        if (!Macro.isDomainSpec(spec)) throw SpfException.perm("bad domain-spec in '" + term + "'");
        return spec;
    }

    /** A CIDR length: decimal without leading zeros (5.6, as for ip4-network), at most {@code max}. */
    private static int cidr(String digits, int max, String term) throws SpfException {
        if (digits == null) return max;
        if (digits.length() > 3 || (digits.length() > 1 && digits.charAt(0) == '0'))
            throw SpfException.perm("bad CIDR length in '" + term + "'");
        int v = Integer.parseInt(digits);
        if (v > max) throw SpfException.perm("CIDR length over " + max + " in '" + term + "'");
        return v;
    }
}
