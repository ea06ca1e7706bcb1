package dev.portcullis.hook;

import java.util.List;
import java.util.Objects;

/**
 * An SMTP reply: a three-digit code, an RFC 3463 enhanced status code and one or more text lines.
 * Text is what the client sees, so keep it generic; details belong in the log (DESIGN habit 4).
 * Lines never contain CR or LF: a plugin cannot inject a second reply.
 */
public record Reply(int code, String enhanced, List<String> lines) {

    public Reply {
        if (code < 200 || code > 599) throw new IllegalArgumentException("reply code out of range: " + code);
        if (enhanced != null && !isEnhancedCode(enhanced))
            throw new IllegalArgumentException("not an enhanced status code: " + enhanced);
        if (enhanced != null && enhanced.charAt(0) - '0' != code / 100)
            throw new IllegalArgumentException("enhanced code " + enhanced + " does not match " + code);
        String[] oneLines = new String[lines.size()];   // every reply of every session: no stream, no regex
        for (int i = 0; i < oneLines.length; i++) oneLines[i] = oneLine(lines.get(i));
        lines = oneLines.length == 0 ? List.of("") : List.of(oneLines);
    }

    /** RFC 3463's class.subject.detail: [245], then two numbers of 1 to 3 digits, dot-separated. */
    private static boolean isEnhancedCode(String s) {
        int n = s.length();
        if (n < 5 || (s.charAt(0) != '2' && s.charAt(0) != '4' && s.charAt(0) != '5') || s.charAt(1) != '.') return false;
        int i = 2;
        for (int part = 0; part < 2; part++) {
            int start = i;
            while (i < n && i - start < 4 && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            int digits = i - start;
            if (digits < 1 || digits > 3) return false;
            if (part == 0) {
                if (i >= n || s.charAt(i) != '.') return false;
                i++;
            }
        }
        return i == n;
    }

    public Reply(int code, String enhanced, String text) {
        this(code, enhanced, List.of(text));
    }

    public boolean isPositive() { return code < 400; }
    public boolean isTransient() { return code >= 400 && code < 500; }
    public boolean isPermanent() { return code >= 500; }

    /** The first line's text, for logs. */
    public String text() { return lines.getFirst(); }

    /** The reply as it goes on the wire, every line ending in CRLF. */
    public String wire() {
        StringBuilder sb = new StringBuilder(64);
        for (int i = 0; i < lines.size(); i++) {
            sb.append(code).append(i == lines.size() - 1 ? ' ' : '-');
            if (enhanced != null) sb.append(enhanced).append(' ');
            sb.append(lines.get(i)).append("\r\n");
        }
        return sb.toString();
    }

    private static String oneLine(String s) {
        Objects.requireNonNull(s, "reply text");
        return s.replace('\r', ' ').replace('\n', ' ');
    }

    @Override public String toString() { return code + (enhanced == null ? "" : " " + enhanced) + " " + String.join(" / ", lines); }
}
