package dev.portcullis.spf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Macro strings (RFC 7208 7): syntax checking and expansion in one scanner, so that what was accepted when
 * the record was parsed is exactly what is expanded later.
 *
 * <pre>
 * macro-string  = *( macro-expand / macro-literal )
 * macro-expand  = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
 * macro-literal = %x21-24 / %x26-7E            ; visible US-ASCII except "%"
 * transformers  = *DIGIT [ "r" ]               ; a DIGIT transformer must be nonzero (7.3)
 * delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
 * domain-spec   = macro-string domain-end
 * domain-end    = ( "." toplabel [ "." ] ) / macro-expand
 * explain-string = *( macro-string / SP )
 * </pre>
 * The letters c, r and t are allowed in explanation text only (7.3). An upper-case letter expands like its
 * lower-case twin and is then URL-escaped (RFC 3986 unreserved characters stay as they are).
 */
final class Macro {
    private Macro() {}

    /** The value of a (lower-case) macro letter; may look things up (p), hence the exception. */
    interface Values {
        String value(char letter) throws SpfException;
    }

    private static final String LETTERS = "slodiphcrtv";
    private static final String EXPLANATION_ONLY = "crt";
    private static final String DELIMITERS = ".-+,/_=";
    private static final Pattern TOPLABEL =
            Pattern.compile("[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]");

    /** Throws a permerror unless {@code s} is a macro-string (or, with {@code explanation}, an explain-string). */
    static void check(String s, boolean explanation) throws SpfException {
        scan(s, explanation, null, null);
    }

    /** True if {@code s} is a domain-spec: a non-empty macro-string ending in a macro or in "." toplabel ["."]. */
    static boolean isDomainSpec(String s) {
        if (s.isEmpty()) return false;
        int[] literalTail = new int[1];
        try {
            scan(s, false, null, literalTail);
        } catch (SpfException e) {
            return false;
        }
        if (literalTail[0] == s.length()) return true; // ends in a macro-expand
        String tail = s.substring(literalTail[0]);
        if (tail.endsWith(".")) tail = tail.substring(0, tail.length() - 1);
        int dot = tail.lastIndexOf('.');
        return dot >= 0 && TOPLABEL.matcher(tail.substring(dot + 1)).matches();
    }

    /** Expands a macro-string (or explain-string) that {@link #check} accepted. */
    static String expand(String s, boolean explanation, Values values) throws SpfException {
        return scan(s, explanation, values, null);
    }

    /**
     * Checks and, when {@code values} is given, expands. {@code literalTail}, when given, receives the index where
     * the trailing run of literal characters starts (the length of {@code s} if a macro-expand ends it).
     */
    private static String scan(String s, boolean explanation, Values values, int[] literalTail) throws SpfException {
        StringBuilder out = new StringBuilder();
        int tail = 0;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != '%') {
                if ((c < 0x21 || c > 0x7e) && !(explanation && c == ' '))
                    throw SpfException.perm("character " + describe(c) + " is not allowed in a macro string");
                out.append(c);
                i++;
                continue;
            }
            if (i + 1 >= s.length()) throw SpfException.perm("'%' ends a macro string");
            char n = s.charAt(i + 1);
            switch (n) {
                case '%' -> { out.append('%'); i += 2; }
                case '_' -> { out.append(' '); i += 2; }
                case '-' -> { out.append("%20"); i += 2; }
                case '{' -> {
                    int close = s.indexOf('}', i + 2);
                    if (close < 0) throw SpfException.perm("unterminated macro in a macro string");
                    out.append(macro(s.substring(i + 2, close), explanation, values));
                    i = close + 1;
                }
                default -> throw SpfException.perm("'%" + describe(n) + "' is not a macro");
            }
            tail = i;
        }
        if (literalTail != null) literalTail[0] = tail;
        return out.toString();
    }

    private static String macro(String body, boolean explanation, Values values) throws SpfException {
        if (body.isEmpty()) throw SpfException.perm("empty macro %{}");
        char letter = body.charAt(0);
        char lower = letter >= 'A' && letter <= 'Z' ? (char) (letter + 32) : letter;
        if (LETTERS.indexOf(lower) < 0) throw SpfException.perm("unknown macro letter '" + describe(letter) + "'");
        if (!explanation && EXPLANATION_ONLY.indexOf(lower) >= 0)
            throw SpfException.perm("macro %{" + letter + "} is allowed in explanations only");
        int j = 1;
        int digits = 0;
        boolean hasDigits = false;
        while (j < body.length() && body.charAt(j) >= '0' && body.charAt(j) <= '9') {
            digits = Math.min(digits * 10 + (body.charAt(j) - '0'), 1000); // more parts than any name has
            hasDigits = true;
            j++;
        }
        if (hasDigits && digits == 0) throw SpfException.perm("macro transformer 0 in %{" + body + "}");
        boolean reverse = j < body.length() && (body.charAt(j) == 'r' || body.charAt(j) == 'R');
        if (reverse) j++;
        String delimiters = body.substring(j);
        for (int k = 0; k < delimiters.length(); k++) {
            if (DELIMITERS.indexOf(delimiters.charAt(k)) < 0)
                throw SpfException.perm("bad delimiter '" + describe(delimiters.charAt(k)) + "' in a macro");
        }
        if (values == null) return "";

        List<String> parts = split(values.value(lower), delimiters.isEmpty() ? "." : delimiters);
        if (reverse) Collections.reverse(parts);
        if (hasDigits && digits < parts.size()) parts = parts.subList(parts.size() - digits, parts.size());
        String joined = String.join(".", parts);
        return lower != letter ? urlEscape(joined) : joined;
    }

    /** Splits on any of the delimiter characters, keeping empty parts. */
    private static List<String> split(String value, String delimiters) {
        List<String> parts = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < value.length(); i++) {
            if (delimiters.indexOf(value.charAt(i)) >= 0) {
                parts.add(value.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(value.substring(start));
        return parts;
    }

    /** RFC 3986 percent-encoding of everything but the unreserved characters, over UTF-8 octets. */
    static String urlEscape(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
                    || c == '-' || c == '.' || c == '_' || c == '~') {
                sb.append((char) c);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return sb.toString();
    }

    /** A character for an error message: printable ASCII as itself, anything else as U+XXXX. */
    static String describe(char c) {
        return c > 0x20 && c < 0x7f ? String.valueOf(c) : String.format("U+%04X", (int) c);
    }
}
