package dev.portcullis.hook;

import java.util.List;
import java.util.Objects;

/**
 * An SMTP reply: a three-digit code, an RFC 3463 enhanced status code and one or more text lines.
 * Text is what the client sees, so keep it generic; details belong in the log (DESIGN habit 4).
 * Lines never contain CR or LF: a plugin cannot inject a second reply.
 */
public record Reply(int code, String enhanced, List<String> lines) {

    /** Compiled once: every reply of every session is checked against it. */
    private static final java.util.regex.Pattern ENHANCED = java.util.regex.Pattern.compile("[245]\\.\\d{1,3}\\.\\d{1,3}");

    public Reply {
        if (code < 200 || code > 599) throw new IllegalArgumentException("reply code out of range: " + code);
        if (enhanced != null && !ENHANCED.matcher(enhanced).matches())
            throw new IllegalArgumentException("not an enhanced status code: " + enhanced);
        if (enhanced != null && enhanced.charAt(0) - '0' != code / 100)
            throw new IllegalArgumentException("enhanced code " + enhanced + " does not match " + code);
        lines = List.copyOf(lines).stream().map(Reply::oneLine).toList();
        if (lines.isEmpty()) lines = List.of("");
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
