package dev.portcullis.smtp;

import dev.portcullis.hook.Address;
import dev.portcullis.net.IpLiteral;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Parses the argument of MAIL FROM: and RCPT TO: into a path and ESMTP parameters (RFC 5321 4.1.2, 4.1.3).
 *
 * Decisions (docs/smtp.md): angle brackets are required; one space after the colon is tolerated (common
 * and harmless); a source route ({@code @a,@b:user@c}) is accepted and ignored as RFC 5321 4.1.1.3 asks,
 * and kept in {@link Address#raw()} for the relay checks; non-ASCII needs SMTPUTF8 (RFC 6531).
 * Length limits (4.5.3.1): the path at most 256 octets and the domain at most 255 for everyone; a local
 * part over 64 octets is refused for recipients (ours are short) but tolerated for senders, because
 * VERP and SRS return paths routinely exceed it and refusing them loses real bounces.
 */
final class PathParser {

    /** A syntax error, carrying the reply to give. */
    static final class PathException extends Exception {
        final int code;
        final String enhanced;

        PathException(int code, String enhanced, String message) {
            super(message, null, false, false);
            this.code = code;
            this.enhanced = enhanced;
        }
    }

    record Parsed(Address address, Map<String, String> parameters, boolean postmaster) {}

    static final int MAX_PATH = 256, MAX_DOMAIN = 255, MAX_LOCAL = 64;

    private PathParser() {}

    /**
     * @param text      what follows "FROM:" or "TO:"
     * @param sender    true for MAIL FROM (null sender allowed, long local parts tolerated)
     * Non-ASCII is parsed like ASCII; whether it is allowed (SMTPUTF8) is the caller's decision, since the
     * parameter that allows it follows the address.
     */
    static Parsed parse(String text, boolean sender) throws PathException {
        boolean utf8 = true;
        String badSyntax = sender ? "5.1.7" : "5.1.3";
        String s = text.startsWith(" ") ? text.substring(1) : text;
        if (!s.startsWith("<")) throw new PathException(501, "5.5.4", "Syntax: " + (sender ? "MAIL FROM:<address>" : "RCPT TO:<address>"));
        int close = closingBracket(s);
        if (close < 0) throw new PathException(501, badSyntax, "Syntax error in address: missing '>'");
        String raw = s.substring(1, close);
        Map<String, String> params = parameters(s.substring(close + 1));
        if (raw.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 2 > MAX_PATH) // 4.5.3.1.3 counts the < >
            throw new PathException(553, badSyntax, "Address too long (RFC 5321 4.5.3.1.3)");
        if (raw.isEmpty()) {
            if (sender) return new Parsed(Address.NULL_SENDER, params, false);
            throw new PathException(501, badSyntax, "Empty recipient address");
        }
        String mailbox = raw;
        if (mailbox.startsWith("@")) { // source route: A-d-l ":" Mailbox
            int colon = mailbox.indexOf(':');
            if (colon < 0) throw new PathException(501, badSyntax, "Syntax error in source route");
            for (String hop : mailbox.substring(0, colon).split(",", -1))
                if (!hop.startsWith("@") || !validDomain(hop.substring(1), utf8))
                    throw new PathException(501, badSyntax, "Syntax error in source route");
            mailbox = mailbox.substring(colon + 1);
        }
        if (!sender && mailbox.equalsIgnoreCase("postmaster")) // RFC 5321 4.5.1: <Postmaster> without a domain
            return new Parsed(new Address("postmaster", "", raw), params, true);
        int at = localPartEnd(mailbox);
        if (at < 0 || at >= mailbox.length() || mailbox.charAt(at) != '@')
            throw new PathException(501, badSyntax, "Syntax error in address: expected local-part@domain");
        String local = mailbox.substring(0, at);
        String domain = mailbox.substring(at + 1);
        if (!sender && local.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_LOCAL)
            throw new PathException(553, badSyntax, "Local part too long (RFC 5321 4.5.3.1.1)");
        if (domain.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_DOMAIN)
            throw new PathException(553, badSyntax, "Domain too long (RFC 5321 4.5.3.1.2)");
        if (!(validDomain(domain, utf8) || validAddressLiteral(domain)))
            throw new PathException(501, badSyntax, "Syntax error in domain");
        return new Parsed(new Address(local, domain, raw), params, false);
    }

    /** Index of the '>' that closes the path, skipping quoted strings. */
    private static int closingBracket(String s) {
        boolean quoted = false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quoted && c == '\\') { i++; continue; }
            if (c == '"') quoted = !quoted;
            else if (c == '>' && !quoted) return i;
        }
        return -1;
    }

    /** Index just past the local part (Dot-string or Quoted-string), or -1 when it is malformed. */
    private static int localPartEnd(String m) {
        if (m.startsWith("\"")) {
            for (int i = 1; i < m.length(); i++) {
                char c = m.charAt(i);
                if (c == '\\') {
                    if (i + 1 >= m.length() || m.charAt(i + 1) < 32 || m.charAt(i + 1) == 127) return -1;
                    i++;
                } else if (c == '"') {
                    return i + 1;
                } else if (c < 32 || c == 127) {
                    return -1;
                }
            }
            return -1;
        }
        int i = 0;
        boolean lastDot = true; // no leading dot
        for (; i < m.length(); i++) {
            char c = m.charAt(i);
            if (c == '@') break;
            if (c == '.') {
                if (lastDot) return -1;
                lastDot = true;
            } else if (isAtext(c)) {
                lastDot = false;
            } else {
                return -1;
            }
        }
        return lastDot ? -1 : i;
    }

    private static boolean isAtext(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0 || c >= 0x80;
    }

    static boolean validDomain(String d, boolean utf8) {
        if (d.isEmpty() || d.length() > MAX_DOMAIN) return false;
        for (String label : d.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63) return false;
            if (label.startsWith("-") || label.endsWith("-")) return false;
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                        || (utf8 && c >= 0x80);
                if (!ok) return false;
            }
        }
        return true;
    }

    /** RFC 5321 4.1.3: [dotted quad] or [IPv6:...]; general address literals (tag:content) are refused. */
    private static boolean validAddressLiteral(String d) {
        if (!d.startsWith("[") || !d.endsWith("]")) return false;
        String inner = d.substring(1, d.length() - 1);
        if (inner.regionMatches(true, 0, "IPv6:", 0, 5)) return IpLiteral.isIpv6(inner.substring(5));
        return IpLiteral.isIpv4(inner);
    }

    // compiled once: String.split and String.matches with these compile a Pattern on every call
    private static final Pattern SPACES = Pattern.compile(" +");
    private static final Pattern KEYWORD = Pattern.compile("[A-Z0-9][A-Z0-9-]*");

    /** ESMTP parameters: keyword[=value], space separated (RFC 5321 4.1.2). Keys upper-cased. */
    private static Map<String, String> parameters(String rest) throws PathException {
        Map<String, String> out = new LinkedHashMap<>();
        if (rest.isBlank()) return out;
        if (!rest.startsWith(" ")) throw new PathException(501, "5.5.4", "Syntax error after address");
        for (String p : SPACES.split(rest.trim())) {
            int eq = p.indexOf('=');
            String key = (eq < 0 ? p : p.substring(0, eq)).toUpperCase(Locale.ROOT);
            String value = eq < 0 ? "" : p.substring(eq + 1);
            if (!KEYWORD.matcher(key).matches() || (eq >= 0 && value.isEmpty()))
                throw new PathException(501, "5.5.4", "Syntax error in parameters");
            if (out.put(key, value) != null) throw new PathException(501, "5.5.4", "Duplicate parameter " + key);
        }
        return out;
    }

    static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) >= 0x80) return false;
        return true;
    }
}
