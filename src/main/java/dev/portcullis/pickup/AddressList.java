package dev.portcullis.pickup;

import dev.portcullis.hook.Address;
import java.util.ArrayList;
import java.util.List;

/*
 * RFC 5322 3.4 address lists, as found in To:, Cc: and Bcc: (for `sendmail -t`) and in sendmail's
 * recipient arguments. Only the addresses matter here, so display names and comments are read and dropped.
 *
 *   address-list = address *("," address)
 *   address      = mailbox / group
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] "<" addr-spec ">"
 *   group        = display-name ":" [mailbox *("," mailbox)] ";"       e.g. undisclosed-recipients:;
 *   addr-spec    = local-part "@" domain        local-part: dot-atom or quoted-string
 *                                               domain: dot-atom or domain-literal [...]
 *
 * Accepted beyond the strict grammar, because real headers and command lines contain them (RFC 5322 4.4,
 * the obsolete syntax a reader must accept): comments (nested, with quoted pairs) anywhere; empty list
 * elements ("a@b,,c@d"); a route before the address ("<@relay:a@b>", ignored as RFC 5321 4.1.1.3 asks);
 * "." inside display names ("John Q. Public"); a group missing its final ";" at the end of the text; and —
 * sendmail's own convention — a bare local part ("root") qualified with the default domain.
 *
 * Invariant: the local part is kept as written (quotes included), like Address everywhere else, so that
 * parsing Address.mailbox() again gives the same Address. Non-ASCII (RFC 6532) is treated as atom text.
 */
public final class AddressList {

    /** The text is not an address list; the message says where and why. */
    public static final class SyntaxException extends Exception {
        SyntaxException(String message) {
            super(message, null, false, false);
        }
    }

    private enum Kind { WORD, QUOTED, LITERAL, SPECIAL }

    /** A token; {@code text} is exactly as written (quoted strings and literals with their delimiters). */
    private record Token(Kind kind, String text, int at) {
        boolean is(char special) { return kind == Kind.SPECIAL && text.charAt(0) == special; }
    }

    private final String input;
    private final String defaultDomain;
    private final List<Token> tokens;
    private int pos;

    private AddressList(String input, String defaultDomain) throws SyntaxException {
        this.input = input;
        this.defaultDomain = defaultDomain;
        this.tokens = tokenize(input);
    }

    /**
     * Every mailbox of an address list, groups flattened, in order.
     *
     * @param defaultDomain the domain for a bare local part such as "root"; null to refuse one
     */
    public static List<Address> parse(String text, String defaultDomain) throws SyntaxException {
        AddressList p = new AddressList(text, defaultDomain);
        List<Address> out = new ArrayList<>();
        while (!p.atEnd()) {
            if (p.peek().is(',')) { p.pos++; continue; }
            p.address(out, false);
            if (!p.atEnd() && !p.peek().is(',')) throw p.error("expected ',' between addresses");
        }
        return out;
    }

    /**
     * Exactly one mailbox: {@code a@b}, {@code <a@b>} or {@code Name <a@b>}. An empty {@code <>} (or
     * empty text) is the null sender, returned as {@link Address#NULL_SENDER}.
     */
    public static Address parseMailbox(String text, String defaultDomain) throws SyntaxException {
        AddressList p = new AddressList(text, defaultDomain);
        if (p.atEnd()) return Address.NULL_SENDER;
        if (p.tokens.size() == 2 && p.tokens.get(0).is('<') && p.tokens.get(1).is('>')) return Address.NULL_SENDER;
        List<Address> out = new ArrayList<>(1);
        p.address(out, true);   // inGroup = true: a group is not a mailbox
        if (!p.atEnd()) throw p.error("expected a single address");
        return out.getFirst();
    }

    // ---- parser -----------------------------------------------------------------------------------

    private void address(List<Address> out, boolean inGroup) throws SyntaxException {
        List<Token> words = new ArrayList<>();
        while (!atEnd() && (peek().kind == Kind.WORD || peek().kind == Kind.QUOTED)) words.add(tokens.get(pos++));
        Token t = atEnd() ? null : peek();
        if (t != null && t.is('<')) {
            pos++;
            out.add(angleAddr());
        } else if (t != null && t.is(':')) {
            if (inGroup) throw error("a group cannot be nested or used as a single address");
            if (words.isEmpty()) throw error("a group needs a name before ':'");
            pos++;
            while (!atEnd()) {
                if (peek().is(';')) { pos++; return; }
                if (peek().is(',')) { pos++; continue; }
                address(out, true);
                if (!atEnd() && !peek().is(',') && !peek().is(';')) throw error("expected ',' or ';' in a group");
            }
            // the ';' is missing at the very end: an error, but a harmless and common one
        } else if (t != null && t.is('@')) {
            if (words.isEmpty()) throw error("missing local part before '@'");
            pos++;
            out.add(mailbox(localPart(words), domain()));
        } else if (t == null || t.is(',') || t.is(';') || t.is('>')) {
            if (t != null && t.is('>')) throw error("unexpected '>'");
            if (words.isEmpty()) throw error("expected an address");
            if (words.size() != 1) throw error("expected an address, found a phrase without <address>");
            out.add(qualify(localPart(words)));
        } else {
            throw error("unexpected '" + t.text() + "'");
        }
    }

    /** After '<': [route ":"] addr-spec ">", or a bare local part. */
    private Address angleAddr() throws SyntaxException {
        if (!atEnd() && peek().is('@')) {   // obsolete route: @a,@b:user@c
            while (!atEnd() && !peek().is(':')) {
                if (peek().is('>')) throw error("malformed route in <...>");
                pos++;
            }
            if (atEnd()) throw error("missing ':' after route");
            pos++;
        }
        List<Token> words = new ArrayList<>();
        while (!atEnd() && (peek().kind == Kind.WORD || peek().kind == Kind.QUOTED)) words.add(tokens.get(pos++));
        if (words.isEmpty()) throw error(!atEnd() && peek().is('>') ? "empty address <>" : "expected an address after '<'");
        Address a;
        if (!atEnd() && peek().is('@')) {
            pos++;
            a = mailbox(localPart(words), domain());
        } else {
            a = qualify(localPart(words));
        }
        if (atEnd() || !peek().is('>')) throw error("missing '>'");
        pos++;
        return a;
    }

    /** dot-atom / quoted-string, or the obsolete word *("." word): the words must be joined by dots. */
    private String localPart(List<Token> words) throws SyntaxException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words.size(); i++) {
            Token w = words.get(i);
            if (i > 0 && !(sb.charAt(sb.length() - 1) == '.' || w.text().startsWith(".")))
                throw error("a local part cannot contain spaces (quote it)");
            if (w.kind() == Kind.WORD && w.text().contains("..")) throw error("misplaced '.' in local part " + w.text());
            sb.append(w.text());
        }
        String local = sb.toString();
        if (local.startsWith(".") || local.endsWith(".")) throw error("misplaced '.' in local part " + local);
        return local;
    }

    private String domain() throws SyntaxException {
        if (atEnd()) throw error("missing domain after '@'");
        Token t = tokens.get(pos++);
        if (t.kind == Kind.LITERAL) return t.text();
        if (t.kind != Kind.WORD) throw error("expected a domain after '@'");
        String d = t.text();
        if (d.startsWith(".") || d.endsWith(".") || d.contains("..")) throw error("misplaced '.' in domain " + d);
        return d;
    }

    private Address qualify(String local) throws SyntaxException {
        if (defaultDomain == null) throw error("address without a domain: " + local);
        return mailbox(local, defaultDomain);
    }

    private static Address mailbox(String local, String domain) {
        return new Address(local, domain, local + "@" + domain);
    }

    private boolean atEnd() { return pos >= tokens.size(); }

    private Token peek() { return tokens.get(pos); }

    private SyntaxException error(String why) {
        int at = atEnd() ? input.length() : peek().at();
        return new SyntaxException(why + " (at column " + (at + 1) + " of \"" + abbreviate(input) + "\")");
    }

    // ---- tokenizer --------------------------------------------------------------------------------

    private static List<Token> tokenize(String s) throws SyntaxException {
        List<Token> out = new ArrayList<>();
        int i = 0, n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                i++;
            } else if (c == '(') {
                i = skipComment(s, i);
            } else if (c == '"') {
                int end = quoted(s, i, '"', "quoted string");
                out.add(new Token(Kind.QUOTED, s.substring(i, end), i));
                i = end;
            } else if (c == '[') {
                int end = quoted(s, i, ']', "domain literal");
                out.add(new Token(Kind.LITERAL, s.substring(i, end), i));
                i = end;
            } else if ("<>@,:;".indexOf(c) >= 0) {
                out.add(new Token(Kind.SPECIAL, String.valueOf(c), i));
                i++;
            } else if (isWordChar(c)) {
                int start = i;
                while (i < n && isWordChar(s.charAt(i))) i++;
                out.add(new Token(Kind.WORD, s.substring(start, i), start));
            } else {
                throw new SyntaxException("unexpected character '" + printable(c) + "' (at column " + (i + 1)
                        + " of \"" + abbreviate(s) + "\")");
            }
        }
        return out;
    }

    /** RFC 5322 atext, plus '.' (dot-atom, obs-phrase) and non-ASCII (RFC 6532). */
    private static boolean isWordChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || "!#$%&'*+-/=?^_`{|}~.".indexOf(c) >= 0 || c >= 0x80;
    }

    /** Index just past the closing delimiter of a quoted string or domain literal starting at {@code i}. */
    private static int quoted(String s, int i, char close, String what) throws SyntaxException {
        for (int j = i + 1; j < s.length(); j++) {
            char c = s.charAt(j);
            if (c == '\\') j++;
            else if (c == close) return j + 1;
            else if (close == ']' && c == '[') break;
        }
        throw new SyntaxException("unterminated " + what + " (at column " + (i + 1) + " of \"" + abbreviate(s) + "\")");
    }

    private static int skipComment(String s, int i) throws SyntaxException {
        int depth = 0;
        for (int j = i; j < s.length(); j++) {
            char c = s.charAt(j);
            if (c == '\\') j++;
            else if (c == '(') depth++;
            else if (c == ')' && --depth == 0) return j + 1;
        }
        throw new SyntaxException("unterminated comment (at column " + (i + 1) + " of \"" + abbreviate(s) + "\")");
    }

    private static String printable(char c) {
        return c < 32 || c == 127 ? String.format("\\x%02x", (int) c) : String.valueOf(c);
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("[\\r\\n\\t]+", " ");
        return one.length() <= 80 ? one : one.substring(0, 77) + "...";
    }
}
