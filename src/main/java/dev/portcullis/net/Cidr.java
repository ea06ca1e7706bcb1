package dev.portcullis.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/** An IPv4 or IPv6 network such as {@code 192.0.2.0/24} or {@code ::1/128}; a bare address is a /32 or /128. */
public record Cidr(byte[] network, int prefix) {

    /**
     * @throws IllegalArgumentException with a message fit for a config error
     */
    public static Cidr parse(String text) {
        String s = text.trim();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        InetAddress parsed = IpLiteral.parse(addr); // only literals: a name here would mean a DNS lookup
        if (parsed == null) throw new IllegalArgumentException("not an IP network: " + text);
        byte[] bytes = parsed.getAddress();
        int max = bytes.length * 8;
        int prefix;
        String len = slash < 0 ? null : s.substring(slash + 1);
        if (len != null && !len.matches("\\d{1,3}")) throw new IllegalArgumentException("bad prefix length in " + text);
        prefix = len == null ? max : Integer.parseInt(len);
        if (prefix < 0 || prefix > max) throw new IllegalArgumentException("prefix length out of range in " + text);
        return new Cidr(mask(bytes, prefix), prefix);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) return false;
        byte[] masked = mask(a, prefix);
        return java.util.Arrays.equals(masked, network);
    }

    public static boolean anyContains(List<Cidr> networks, InetAddress address) {
        for (Cidr c : networks) if (c.contains(address)) return true;
        return false;
    }

    private static byte[] mask(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (bits == 0 ? 0 : 0xFF << (8 - bits));
        }
        return out;
    }

    @Override public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && java.util.Arrays.equals(c.network, network);
    }

    @Override public int hashCode() { return java.util.Arrays.hashCode(network) * 31 + prefix; }
}
