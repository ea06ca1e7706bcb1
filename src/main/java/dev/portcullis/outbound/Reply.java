package dev.portcullis.outbound;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One SMTP reply as the peer sent it (RFC 5321 4.2): a three-digit code and the text of each line. The text
 * comes from the remote and is untrusted: it is only ever logged and quoted (sanitised) in DSNs.
 */
record Reply(int code, List<String> lines) {
    private static final Pattern ENHANCED = Pattern.compile("([245])\\.(\\d{1,3})\\.(\\d{1,3})(?: |$)");

    Reply {
        lines = List.copyOf(lines);
    }

    boolean positive() { return code / 100 == 2; }
    boolean intermediate() { return code / 100 == 3; }
    boolean transientFailure() { return code / 100 == 4; }
    boolean permanentFailure() { return code / 100 == 5; }

    /** The text of the first line, or "" for a reply without text. */
    String text() { return lines.isEmpty() ? "" : lines.getFirst(); }

    /**
     * The RFC 3463 status of this reply: the enhanced code that starts the first line when its class agrees
     * with the reply code (RFC 2034 3), else a generic one for the reply's class (x.0.0).
     */
    String status() {
        Matcher m = ENHANCED.matcher(text());
        if (m.lookingAt() && m.group(1).charAt(0) - '0' == code / 100) return m.group(1) + "." + m.group(2) + "." + m.group(3);
        return (code / 100) + ".0.0";
    }

    /** The reply on one line, for logs and DSNs: "550 5.1.1 no such user", control characters removed. */
    String oneLine() {
        StringBuilder sb = new StringBuilder().append(code);
        for (String l : lines) {
            String clean = l.replaceAll("[\\x00-\\x1f\\x7f]", " ").strip();
            if (!clean.isEmpty()) sb.append(' ').append(clean);
            if (sb.length() > 900) return sb.substring(0, 900) + "...";
        }
        return sb.toString();
    }

    /** The RFC 3464 2.3.6 diagnostic for this reply. */
    String diagnostic() { return "smtp; " + oneLine(); }

    @Override public String toString() { return oneLine(); }
}
