package dev.portcullis.plugins.dnsbl;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One entry of a {@code zones} list, in Postfix's postscreen_dnsbl_sites syntax:
 * {@code zone[=filter[;filter...]][*weight]}.
 *
 * <p>A filter is an IPv4 address pattern of four octets, each a number, or a bracketed list of numbers and
 * ranges ({@code [2..11]}, {@code [2;4;10..11]}); several filters are separated by {@code ;} outside the
 * brackets. An answer counts for this entry when it matches any filter (or always, without a filter).
 * The weight is a decimal number, possibly negative; without one the plugin's {@code score} applies.
 * Invariant: a filter always admits some address in 127.0.0.0/8, the only answers that are listings
 * (RFC 5782 2.3); one that could never match is a configuration error, not a silent no-op.
 */
record ZoneSpec(String zone, List<Filter> filters, Double weight, String text) {

    private static final Pattern LABEL = Pattern.compile("[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?");
    private static final Pattern WEIGHT = Pattern.compile("[+-]?\\d{1,9}(?:\\.\\d{1,9})?");
    /** Room left in a 253-octet name for the 64 octets of an IPv6 nibble prefix (RFC 5782 2.4). */
    static final int MAX_ZONE_LENGTH = 180;

    ZoneSpec {
        filters = List.copyOf(filters);
    }

    /** An address pattern: one set of allowed values per octet. */
    record Filter(List<BitSet> octets, String text) {
        boolean matches(Inet4Address a) {
            byte[] b = a.getAddress();
            for (int i = 0; i < 4; i++) if (!octets.get(i).get(b[i] & 0xff)) return false;
            return true;
        }

        @Override public String toString() { return text; }
    }

    /** True when {@code answer} satisfies this entry's filter (always, without one). */
    boolean accepts(Inet4Address answer) {
        if (filters.isEmpty()) return true;
        for (Filter f : filters) if (f.matches(answer)) return true;
        return false;
    }

    double weightOr(double defaultWeight) { return weight == null ? defaultWeight : weight; }

    @Override public String toString() { return text; }

    /** Parses one entry; the exception's message says what is wrong (the caller adds the setting's name). */
    static ZoneSpec parse(String entry) {
        String s = entry.strip();
        if (s.isEmpty()) throw new IllegalArgumentException("empty zone entry");
        Double weight = null;
        int star = s.lastIndexOf('*');
        if (star >= 0) {
            String w = s.substring(star + 1).strip();
            if (!WEIGHT.matcher(w).matches())
                throw new IllegalArgumentException("\"" + entry + "\": the weight after * must be a number, not \"" + w + "\"");
            weight = Double.parseDouble(w);
            s = s.substring(0, star).strip();
        }
        String zone = s;
        List<Filter> filters = List.of();
        int eq = s.indexOf('=');
        if (eq >= 0) {
            zone = s.substring(0, eq).strip();
            String f = s.substring(eq + 1).strip();
            if (f.isEmpty()) throw new IllegalArgumentException("\"" + entry + "\": empty answer filter after =");
            filters = parseFilters(entry, f);
        }
        return new ZoneSpec(zoneName(entry, zone), filters, weight, entry.strip());
    }

    /** Lower case, no trailing dot, LDH(+underscore) labels, short enough for an IPv6 query. */
    static String zoneName(String entry, String zone) {
        String z = zone.toLowerCase(Locale.ROOT);
        if (z.endsWith(".")) z = z.substring(0, z.length() - 1);
        if (z.isEmpty()) throw new IllegalArgumentException("\"" + entry + "\": missing zone name");
        String[] labels = z.split("\\.", -1);
        if (labels.length < 2)
            throw new IllegalArgumentException("\"" + entry + "\": \"" + zone + "\" is not a zone name such as zen.example.org");
        for (String l : labels)
            if (!LABEL.matcher(l).matches())
                throw new IllegalArgumentException("\"" + entry + "\": \"" + zone + "\" is not a valid zone name");
        if (z.length() > MAX_ZONE_LENGTH)
            throw new IllegalArgumentException("\"" + entry + "\": zone name longer than " + MAX_ZONE_LENGTH + " characters");
        return z;
    }

    private static List<Filter> parseFilters(String entry, String text) {
        List<Filter> out = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : ';';
            if (c == '[') depth++;
            else if (c == ']') depth--;
            if (depth < 0 || depth > 1) throw new IllegalArgumentException("\"" + entry + "\": unbalanced brackets in the answer filter");
            if (c == ';' && depth == 0) {
                out.add(parseFilter(entry, text.substring(start, i).strip()));
                start = i + 1;
            }
        }
        if (depth != 0) throw new IllegalArgumentException("\"" + entry + "\": unbalanced brackets in the answer filter");
        return out;
    }

    private static Filter parseFilter(String entry, String f) {
        String where = "\"" + entry + "\": answer filter \"" + f + "\"";
        List<BitSet> octets = new ArrayList<>(4);
        int i = 0;
        for (int n = 0; n < 4; n++) {
            if (n > 0) {
                if (i >= f.length() || f.charAt(i) != '.')
                    throw new IllegalArgumentException(where + " is not an address pattern such as 127.0.0.2 or 127.0.0.[2..11]");
                i++;
            }
            BitSet set = new BitSet(256);
            if (i < f.length() && f.charAt(i) == '[') {
                int close = f.indexOf(']', i);
                if (close < 0) throw new IllegalArgumentException(where + ": missing ]");
                String inner = f.substring(i + 1, close);
                if (inner.isBlank()) throw new IllegalArgumentException(where + ": empty []");
                for (String element : inner.split(";", -1)) {
                    String el = element.strip();
                    int dots = el.indexOf("..");
                    if (dots >= 0) {
                        int lo = octet(where, el.substring(0, dots));
                        int hi = octet(where, el.substring(dots + 2));
                        if (lo > hi) throw new IllegalArgumentException(where + ": range [" + el + "] runs backwards");
                        set.set(lo, hi + 1);
                    } else {
                        set.set(octet(where, el));
                    }
                }
                i = close + 1;
            } else {
                int begin = i;
                while (i < f.length() && f.charAt(i) >= '0' && f.charAt(i) <= '9') i++;
                set.set(octet(where, f.substring(begin, i)));
            }
            octets.add(set);
        }
        if (i != f.length())
            throw new IllegalArgumentException(where + " is not an address pattern such as 127.0.0.2 or 127.0.0.[2..11]");
        if (!octets.getFirst().get(127))
            throw new IllegalArgumentException(where + " can never match: only answers in 127.0.0.0/8 are listings");
        return new Filter(List.copyOf(octets), f);
    }

    private static int octet(String where, String digits) {
        if (digits.isEmpty() || digits.length() > 3 || !digits.chars().allMatch(c -> c >= '0' && c <= '9'))
            throw new IllegalArgumentException(where + ": \"" + digits + "\" is not a number from 0 to 255");
        int v = Integer.parseInt(digits);
        if (v > 255) throw new IllegalArgumentException(where + ": " + v + " is not a number from 0 to 255");
        return v;
    }
}
