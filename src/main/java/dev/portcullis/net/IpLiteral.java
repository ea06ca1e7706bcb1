package dev.portcullis.net;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Parses IPv4 dotted quads and IPv6 text (RFC 4291 2.2, with an embedded IPv4 tail) strictly and without
 * ever asking DNS: {@code InetAddress.getByName("999.1.1.1")} would look that string up as a host name.
 */
public final class IpLiteral {
    private IpLiteral() {}

    /** The address, or null when the text is not an IP literal. */
    public static InetAddress parse(String text) {
        byte[] bytes = text.indexOf(':') >= 0 ? ipv6(text) : ipv4(text);
        if (bytes == null) return null;
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            return null; // cannot happen for 4 or 16 bytes
        }
    }

    public static boolean isIpv4(String text) { return ipv4(text) != null; }

    public static boolean isIpv6(String text) { return text.indexOf(':') >= 0 && ipv6(text) != null; }

    static byte[] ipv4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) return null;
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) return null;
            if (p.length() > 1 && p.charAt(0) == '0') return null; // no octal-looking octets
            int v = Integer.parseInt(p);
            if (v > 255) return null;
            out[i] = (byte) v;
        }
        return out;
    }

    static byte[] ipv6(String s) {
        int ipv4Bytes = 0;
        byte[] tail = null;
        int lastColon = s.lastIndexOf(':');
        if (s.indexOf('.') >= 0) { // x:x:x:x:x:x:d.d.d.d
            tail = ipv4(s.substring(lastColon + 1));
            if (tail == null) return null;
            s = s.substring(0, lastColon + 1) + "0:0"; // two placeholder groups, replaced below
            ipv4Bytes = 4;
        }
        int gap = s.indexOf("::");
        if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) return null;
        String head = gap >= 0 ? s.substring(0, gap) : s;
        String rest = gap >= 0 ? s.substring(gap + 2) : "";
        int[] a = groups(head);
        int[] b = gap >= 0 ? groups(rest) : new int[0];
        if (a == null || b == null) return null;
        int total = a.length + b.length;
        if (gap >= 0 ? total > 7 : total != 8) return null;
        byte[] out = new byte[16];
        for (int i = 0; i < a.length; i++) { out[2 * i] = (byte) (a[i] >> 8); out[2 * i + 1] = (byte) a[i]; }
        for (int i = 0; i < b.length; i++) {
            int at = 8 - b.length + i;
            out[2 * at] = (byte) (b[i] >> 8);
            out[2 * at + 1] = (byte) b[i];
        }
        if (ipv4Bytes > 0) System.arraycopy(tail, 0, out, 12, 4);
        return out;
    }

    /** Colon-separated groups of 1-4 hex digits; empty text is no groups. */
    private static int[] groups(String s) {
        if (s.isEmpty()) return new int[0];
        String[] parts = s.split(":", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 4) return null;
            for (int k = 0; k < p.length(); k++) if (Character.digit(p.charAt(k), 16) < 0) return null;
            out[i] = Integer.parseInt(p, 16);
        }
        return out;
    }
}
