package dev.portcullis.spf;

import java.util.regex.Pattern;

/** Domain-name checks and the shaping of expanded names into query names (RFC 7208 4.3, 7.3). */
final class Names {
    private Names() {}

    private static final Pattern TOPLABEL =
            Pattern.compile("[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]");

    /**
     * Whether {@code domain} (the MAIL FROM domain or HELO name, or an include/redirect target) is a
     * fully-qualified domain an SPF record could be published at (4.3): multi-label, labels of 1 to 63
     * visible ASCII characters, 253 characters at most, a toplabel as in 7.1 (so no address literal).
     * One trailing dot is allowed.
     */
    static boolean isValidDomain(String domain) {
        String d = stripDot(domain);
        if (d.isEmpty() || d.length() > 253) return false;
        for (int i = 0; i < d.length(); i++) if (d.charAt(i) <= 0x20 || d.charAt(i) >= 0x7f) return false;
        String[] labels = d.split("\\.", -1);
        if (labels.length < 2) return false;
        for (String l : labels) if (l.isEmpty() || l.length() > 63) return false;
        return TOPLABEL.matcher(labels[labels.length - 1]).matches();
    }

    /**
     * The name to query for an expanded domain-spec: without a trailing dot, and, when longer than 253
     * characters, with labels removed from the left until it fits (7.3). Null when no DNS query can be
     * made of it (an empty or over-long label): such a target is treated as non-existent.
     */
    static String queryName(String expanded) {
        String d = stripDot(expanded);
        while (d.length() > 253) {
            int dot = d.indexOf('.');
            if (dot < 0) return null;
            d = d.substring(dot + 1);
        }
        if (d.isEmpty()) return null;
        for (String l : d.split("\\.", -1)) if (l.isEmpty() || l.length() > 63) return null;
        return d;
    }

    static String stripDot(String s) {
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }

    /** Whether {@code name} is {@code domain} or a subdomain of it, ignoring case and trailing dots. */
    static boolean isAtOrBelow(String name, String domain) {
        String n = stripDot(name);
        String d = stripDot(domain);
        if (n.equalsIgnoreCase(d)) return true;
        return n.length() > d.length() + 1 && n.charAt(n.length() - d.length() - 1) == '.'
                && n.regionMatches(true, n.length() - d.length(), d, 0, d.length());
    }
}
