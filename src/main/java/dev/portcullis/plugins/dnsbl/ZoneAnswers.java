package dev.portcullis.plugins.dnsbl;

import dev.portcullis.dns.DnsAnswer;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The DNSxL conventions of RFC 5782, as pure functions: the query name for a client address (2.1 for IPv4,
 * 2.4 for IPv6) and what an A answer means. Only 127.0.0.0/8 answers are listings (2.3); answers in
 * 127.255.255.0/24 are the list refusing the query (Spamhaus answers 127.255.255.254 to public resolvers,
 * 127.255.255.255 when rate limited) and anything else is a wildcard or a hijacking resolver: both errors,
 * never listings.
 */
final class ZoneAnswers {
    private ZoneAnswers() {}

    /** What one zone said about one address, before any entry's filter is applied. */
    enum Kind { LISTED, NOT_LISTED, ERROR }

    /**
     * @param codes  the listing answers (127.0.0.0/8 outside 127.255.255.0/24), empty unless LISTED
     * @param reason why the answer is an error, or what was ignored
     * @param txt    the sanitised TXT record of a listing, or null
     */
    record Lookup(String zone, Kind kind, List<Inet4Address> codes, String reason, String txt) {
        Lookup {
            codes = List.copyOf(codes);
        }

        Lookup withTxt(String text) { return new Lookup(zone, kind, codes, reason, text); }
    }

    /** The labels that go before the zone: reversed octets, or reversed nibbles for IPv6. */
    static String reversed(InetAddress ip) {
        byte[] b = ip.getAddress();
        StringBuilder sb = new StringBuilder(64);
        if (ip instanceof Inet4Address) {
            for (int i = 3; i >= 0; i--) {
                sb.append(b[i] & 0xff);
                if (i > 0) sb.append('.');
            }
        } else if (ip instanceof Inet6Address) {
            for (int i = 15; i >= 0; i--) {
                sb.append(Character.forDigit(b[i] & 0x0f, 16)).append('.');
                sb.append(Character.forDigit((b[i] >> 4) & 0x0f, 16));
                if (i > 0) sb.append('.');
            }
        } else {
            throw new IllegalArgumentException("not an IP address: " + ip);
        }
        return sb.toString();
    }

    static String queryName(InetAddress ip, String zone) { return reversed(ip) + "." + zone; }

    /** Classifies a zone's A answer (RFC 5782 2.3, 5). */
    static Lookup evaluate(String zone, DnsAnswer<InetAddress> answer) {
        return switch (answer.status()) {
            case NXDOMAIN, NODATA -> new Lookup(zone, Kind.NOT_LISTED, List.of(), "", null);
            case TEMPFAIL -> new Lookup(zone, Kind.ERROR, List.of(), "no answer (timeout or server failure)", null);
            case OK -> {
                List<Inet4Address> codes = new ArrayList<>();
                List<String> refused = new ArrayList<>();
                List<String> foreign = new ArrayList<>();
                for (InetAddress a : answer.records()) {
                    if (!(a instanceof Inet4Address v4) || (a.getAddress()[0] & 0xff) != 127) foreign.add(a.getHostAddress());
                    else if (isRefusal(v4)) refused.add(a.getHostAddress());
                    else codes.add(v4);
                }
                if (!codes.isEmpty()) {
                    String ignored = refused.isEmpty() && foreign.isEmpty() ? ""
                            : "ignored " + String.join(",", concat(refused, foreign));
                    yield new Lookup(zone, Kind.LISTED, codes, ignored, null);
                }
                if (!refused.isEmpty())
                    yield new Lookup(zone, Kind.ERROR, List.of(), "answer " + String.join(",", refused)
                            + " is a refusal (query blocked or rate limited), not a listing", null);
                yield new Lookup(zone, Kind.ERROR, List.of(), "answer " + String.join(",", foreign)
                        + " is outside 127.0.0.0/8, not a listing (wildcard or rewriting resolver?)", null);
            }
        };
    }

    /** 127.255.255.0/24: the list's way of saying "I will not answer you". */
    static boolean isRefusal(Inet4Address a) {
        byte[] b = a.getAddress();
        return (b[0] & 0xff) == 127 && (b[1] & 0xff) == 255 && (b[2] & 0xff) == 255;
    }

    /**
     * A TXT record made safe for a reply line: printable ASCII only (everything else, CR and LF included,
     * becomes a space, so a zone cannot inject a reply line or a header), runs of spaces collapsed,
     * at most {@code max} characters.
     */
    static String sanitise(String txt, int max) {
        StringBuilder sb = new StringBuilder(Math.min(txt.length(), max + 1));
        boolean space = false;
        for (int i = 0; i < txt.length() && sb.length() <= max; i++) {
            char c = txt.charAt(i);
            if (c > 0x20 && c < 0x7f) {
                if (space && !sb.isEmpty()) sb.append(' ');
                space = false;
                sb.append(c);
            } else {
                space = true;
            }
        }
        if (sb.length() > max) {
            sb.setLength(max);
            sb.append("...");
        }
        return sb.toString();
    }

    static String codes(List<Inet4Address> codes) {
        List<String> s = new ArrayList<>();
        for (Inet4Address a : codes) s.add(a.getHostAddress());
        return String.join(",", s);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
