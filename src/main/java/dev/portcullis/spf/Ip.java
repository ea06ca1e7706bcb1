package dev.portcullis.spf;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Address text as SPF needs it: the strict literals of the ip4/ip6 mechanisms (RFC 7208 5.6: no leading
 * zeros, no omitted parts), prefix matching, and the forms the c and i macros expand to (7.3).
 * Never calls {@link InetAddress#getByName}: a string that is not a literal would become a DNS lookup.
 */
final class Ip {
    private Ip() {}

    /** An IPv4-mapped IPv6 client is an IPv4 client (RFC 7208 5, item 9 of the list of arguments). */
    static InetAddress normalize(InetAddress ip) {
        if (ip instanceof Inet6Address) {
            byte[] b = ip.getAddress();
            boolean mapped = b[10] == (byte) 0xff && b[11] == (byte) 0xff;
            for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
            if (mapped) return byAddress(new byte[] {b[12], b[13], b[14], b[15]});
        }
        return ip;
    }

    static InetAddress byAddress(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes); // bytes only: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address of " + bytes.length + " bytes", e);
        }
    }

    /** ip4-network of RFC 7208 5.6: four decimal octets without leading zeros; null if it is not one. */
    static byte[] parseIp4(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) return null;
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) return null;
            for (int k = 0; k < p.length(); k++) if (p.charAt(k) < '0' || p.charAt(k) > '9') return null;
            int v = Integer.parseInt(p);
            if (v > 255) return null;
            out[i] = (byte) v;
        }
        return out;
    }

    /** ip6-network: the text forms of RFC 4291 2.2 (one "::" at most, optional trailing dotted quad); null if not. */
    static byte[] parseIp6(String s) {
        if (s.isEmpty()) return null;
        int gap = s.indexOf("::");
        if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) return null;
        String head = gap >= 0 ? s.substring(0, gap) : s;
        String tail = gap >= 0 ? s.substring(gap + 2) : "";
        int[] h = groups(head, gap < 0);
        int[] t = gap >= 0 ? groups(tail, true) : new int[0];
        if (h == null || t == null) return null;
        int count = h.length + t.length;
        if (gap < 0 ? count != 8 : count > 7) return null;
        byte[] out = new byte[16];
        for (int i = 0; i < h.length; i++) put(out, i, h[i]);
        for (int i = 0; i < t.length; i++) put(out, 8 - t.length + i, t[i]);
        return out;
    }

    /** Colon-separated 16-bit groups; a dotted quad may end the address (lastPart) and counts as two groups. */
    private static int[] groups(String s, boolean lastPart) {
        if (s.isEmpty()) return new int[0];
        String[] parts = s.split(":", -1);
        int n = parts.length;
        boolean quad = lastPart && parts[n - 1].contains(".");
        int[] out = new int[quad ? n + 1 : n];
        for (int i = 0; i < n; i++) {
            String p = parts[i];
            if (quad && i == n - 1) {
                byte[] v4 = parseIp4(p);
                if (v4 == null) return null;
                out[i] = ((v4[0] & 0xff) << 8) | (v4[1] & 0xff);
                out[i + 1] = ((v4[2] & 0xff) << 8) | (v4[3] & 0xff);
                continue;
            }
            if (p.isEmpty() || p.length() > 4) return null;
            int v = 0;
            for (int k = 0; k < p.length(); k++) {
                int d = Character.digit(p.charAt(k), 16);
                if (d < 0) return null;
                v = v * 16 + d;
            }
            out[i] = v;
        }
        return out;
    }

    private static void put(byte[] out, int group, int value) {
        out[group * 2] = (byte) (value >> 8);
        out[group * 2 + 1] = (byte) value;
    }

    /** True if the first {@code prefix} bits of both addresses agree (same family required). */
    static boolean inNetwork(byte[] address, byte[] network, int prefix) {
        if (address.length != network.length) return false;
        for (int i = 0; i < address.length && prefix > 0; i++, prefix -= 8) {
            int mask = prefix >= 8 ? 0xff : (0xff << (8 - prefix)) & 0xff;
            if ((address[i] & mask) != (network[i] & mask)) return false;
        }
        return true;
    }

    /** The c macro: dotted quad, or the RFC 5952 form of an IPv6 address (lower case, longest zero run as "::"). */
    static String readable(InetAddress ip) {
        if (ip instanceof Inet4Address) return ip.getHostAddress();
        byte[] b = ip.getAddress();
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        int bestStart = -1, bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) { i++; continue; }
            int j = i;
            while (j < 8 && g[j] == 0) j++;
            if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') sb.append(':');
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    /** The i macro: dotted quad, or 32 dot-separated lower-case nibbles for IPv6 (RFC 7208 7.3, example in 7.4). */
    static String dotted(InetAddress ip) {
        if (ip instanceof Inet4Address) return ip.getHostAddress();
        StringBuilder sb = new StringBuilder(63);
        for (byte x : ip.getAddress()) {
            if (sb.length() > 0) sb.append('.');
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append('.').append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }
}
