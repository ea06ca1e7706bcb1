package dev.portcullis.plugins.helo;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * What a HELO/EHLO argument is, by syntax alone (no DNS): a hostname, an address literal in brackets
 * (RFC 5321 4.1.3), an address without brackets, or something invalid.
 *
 * The hostname rule is RFC 5321's Domain (letters, digits, hyphens; labels of 1 to 63 octets that neither
 * begin nor end with a hyphen; 253 octets at most) with two tolerances real clients need and Postfix and
 * OpenSMTPD grant as well: an underscore inside a label, and one trailing dot. A top-level label made only
 * of digits is invalid (RFC 3696 2): {@code 1.2.3} or {@code 999.1.1.1} are neither names nor addresses.
 * Addresses are parsed without DNS ever being asked.
 */
record HeloName(Kind kind, String name, InetAddress address, String problem) {

    enum Kind { HOSTNAME, LITERAL, BARE_IP, INVALID }

    /** True for a hostname with at least two labels. */
    boolean fqdn() { return kind == Kind.HOSTNAME && name.indexOf('.') > 0; }

    static HeloName parse(String helo) {
        if (helo.isEmpty()) return invalid(helo, "empty");
        if (helo.startsWith("[")) {
            if (!helo.endsWith("]") || helo.length() < 3) return invalid(helo, "unterminated address literal");
            String inner = helo.substring(1, helo.length() - 1);
            InetAddress a = inner.regionMatches(true, 0, "IPv6:", 0, 5) ? ipv6(inner.substring(5)) : ipv4(inner);
            if (a == null) return invalid(helo, "malformed address literal");
            return new HeloName(Kind.LITERAL, helo, a, null);
        }
        String name = helo.endsWith(".") ? helo.substring(0, helo.length() - 1) : helo;
        InetAddress bare = ipv4(name);
        if (bare == null && name.indexOf(':') >= 0) bare = ipv6(name);
        if (bare != null) return new HeloName(Kind.BARE_IP, helo, bare, null);
        String problem = hostnameProblem(name);
        if (problem != null) return invalid(helo, problem);
        return new HeloName(Kind.HOSTNAME, name.toLowerCase(Locale.ROOT), null, null);
    }

    private static HeloName invalid(String helo, String problem) {
        return new HeloName(Kind.INVALID, helo, null, problem);
    }

    /** Null when {@code name} is a valid hostname, else what is wrong with it. */
    static String hostnameProblem(String name) {
        if (name.isEmpty()) return "empty name";
        if (name.length() > 253) return "name longer than 253 octets";
        String[] labels = name.split("\\.", -1);
        for (String label : labels) {
            if (label.isEmpty()) return "empty label";
            if (label.length() > 63) return "label longer than 63 octets";
            if (label.charAt(0) == '-' || label.charAt(label.length() - 1) == '-') return "label begins or ends with a hyphen";
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
                if (!ok) return "character outside letters, digits and hyphen";
            }
        }
        String top = labels[labels.length - 1];
        if (labels.length > 1 && top.chars().allMatch(Character::isDigit)) return "numeric top-level label";
        if (labels.length == 1 && top.chars().allMatch(Character::isDigit)) return "numeric name";
        return null;
    }

    /** A strict dotted quad (four decimal octets), or null. */
    static InetAddress ipv4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) return null;
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) return null;
            int v = Integer.parseInt(p);
            if (v > 255) return null;
            bytes[i] = (byte) v;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /** An IPv6 address in any RFC 4291 text form, or null; never a DNS lookup (only hex digits, ':' and '.'). */
    static InetAddress ipv6(String s) {
        if (s.indexOf(':') < 0 || !s.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')) return null;
        try {
            return InetAddress.getByName(s); // a string with ':' is parsed as an IPv6 literal or refused, never resolved
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
