package dev.portcullis.pop3;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.TreeSet;

/**
 * A Maildir file name (https://cr.yp.to/proto/maildir.html): a unique part, then, once the message is in
 * cur/, {@code ":2,"} and its flags in ASCII order ({@code S} seen, {@code T} trashed, {@code F} flagged, ...;
 * Dovecot adds lower-case keyword letters). The unique part never changes while the message lives, which makes
 * it the POP3 unique id (RFC 1939 section 7, UIDL): stable across sessions, and the same id Dovecot reports as
 * the message's GUID, so a user who moves between the two servers does not download everything again (with
 * Dovecot's {@code pop3_uidl_format = %f}).
 *
 * @param unique the part before {@code ":2,"} (the whole name for a message in new/)
 * @param flags  the flags after {@code ":2,"}, or null when the name has no info part
 */
record MaildirName(String unique, String flags) {
    private static final String INFO = ":2,";

    static MaildirName parse(String fileName) {
        int i = fileName.indexOf(INFO);
        return i < 0 ? new MaildirName(fileName, null) : new MaildirName(fileName.substring(0, i), fileName.substring(i + INFO.length()));
    }

    boolean hasFlag(char flag) { return flags != null && flags.indexOf(flag) >= 0; }

    /** The name in cur/ with {@code flag} added: flags stay in ASCII order, as the spec asks. */
    String withFlag(char flag) {
        TreeSet<Character> set = new TreeSet<>();
        if (flags != null) for (char c : flags.toCharArray()) set.add(c);
        set.add(flag);
        StringBuilder sb = new StringBuilder(unique).append(INFO);
        for (char c : set) sb.append(c);
        return sb.toString();
    }

    /**
     * The UIDL: the unique part when it is a valid unique-id (RFC 1939 section 7: 1 to 70 characters from
     * 0x21 to 0x7E), as every name written by our delivery, Dovecot or Postfix is; otherwise a SHA-256 digest
     * of it, which is just as stable.
     */
    String uidl() {
        if (!unique.isEmpty() && unique.length() <= 70 && unique.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) return unique;
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(unique.getBytes(StandardCharsets.UTF_8));
            return "sha256-" + HexFormat.of().formatHex(d, 0, 24);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JVM has SHA-256
        }
    }

    /**
     * Delivery order for message numbers: the seconds that start a Maildir name, then the microseconds of the
     * modern {@code .M<micros>} form (not zero-padded, so text order would be wrong within one second), then
     * the name. Names in other forms sort after the ones with a time, by name.
     */
    static int compareByDelivery(MaildirName a, MaildirName b) {
        int c = Long.compare(leading(a.unique, 0), leading(b.unique, 0));
        if (c != 0) return c;
        c = Long.compare(micros(a.unique), micros(b.unique));
        return c != 0 ? c : a.unique.compareTo(b.unique);
    }

    private static long micros(String s) {
        int dot = s.indexOf('.');
        return dot >= 0 && dot + 1 < s.length() && s.charAt(dot + 1) == 'M' ? leading(s, dot + 2) : -1;
    }

    /** The decimal number at {@code from}, or Long.MAX_VALUE when there is none (or it is absurdly long). */
    private static long leading(String s, int from) {
        int end = from;
        while (end < s.length() && end - from < 18 && Character.isDigit(s.charAt(end)) && s.charAt(end) < 128) end++;
        return end == from ? Long.MAX_VALUE : Long.parseLong(s, from, end, 10);
    }
}
