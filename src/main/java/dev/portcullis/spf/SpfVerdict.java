package dev.portcullis.spf;

import java.util.Objects;

/**
 * The outcome of one SPF check.
 *
 * @param result      the check_host() result
 * @param explanation for {@link SpfResult#FAIL} only: the domain's own explanation (its exp= modifier, RFC 7208
 *                    6.2), macro-expanded; null when the domain gave none or it could not be had, in which case
 *                    the caller uses its own default text. Third-party text: quote it, never trust it.
 * @param reason      for pass, fail, softfail and neutral the directive that matched as the record wrote it
 *                    (e.g. {@code -all}, {@code ip4:192.0.2.0/24}) or {@code default} when none did; for none,
 *                    temperror and permerror what happened (e.g. {@code more than 10 DNS-querying terms})
 * @param domain      the domain whose policy was checked: the MAIL FROM domain, or the HELO name for the null
 *                    sender
 *
 * Every text component holds printable US-ASCII only and is of bounded length, whatever the DNS data or the
 * client sent, so a verdict can go into a log line or a header without further escaping of line breaks.
 */
public record SpfVerdict(SpfResult result, String explanation, String reason, String domain) {

    static final int MAX_EXPLANATION = 400; // fits an SMTP reply line (RFC 5321 4.5.3.1.5) with code and prefix
    static final int MAX_TEXT = 300;

    public SpfVerdict {
        Objects.requireNonNull(result, "result");
        explanation = explanation == null ? null : printable(explanation, MAX_EXPLANATION);
        reason = printable(Objects.requireNonNullElse(reason, ""), MAX_TEXT);
        domain = printable(Objects.requireNonNullElse(domain, ""), MAX_TEXT);
    }

    /** Printable US-ASCII (space to tilde), anything else as '?', cut to {@code max} characters. */
    static String printable(String s, int max) {
        int n = Math.min(s.length(), max);
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            sb.append(c >= 0x20 && c <= 0x7e ? c : '?');
        }
        return sb.toString();
    }
}
