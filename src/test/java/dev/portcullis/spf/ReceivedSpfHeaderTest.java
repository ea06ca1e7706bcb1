package dev.portcullis.spf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Received-SPF field value (RFC 7208 9.1), and that nothing the client or DNS says can break out of it. */
class ReceivedSpfHeaderTest {
    private static final SpfEvaluator SPF = new SpfEvaluator(new MacroExpansionTest.NoDns(), "mx.receiver.example");

    /** isDotAtom is RFC 5322's dot-atom-text, checked against the grammar written as a regular expression. */
    @Test void dotAtomAgreesWithTheGrammar() {
        Pattern grammar = Pattern.compile("[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*");
        String alphabet = "aZ09.!#$%&'*+-/=?^_`{|}~ \"\\()<>[]:;@,\u00e9\u0000\t";
        java.util.Random random = new java.util.Random(7);
        int atoms = 0;
        for (int n = 0; n < 50_000; n++) {
            StringBuilder sb = new StringBuilder();
            for (int len = random.nextInt(8); len > 0; len--) sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
            String text = sb.toString();
            boolean expected = grammar.matcher(text).matches();
            assertEquals(expected, ReceivedSpf.isDotAtom(text), text);
            if (expected) atoms++;
        }
        assertTrue(atoms > 1000 && atoms < 49_000, "both outcomes come up: " + atoms + " dot-atoms");
        for (String atom : List.of("example.com", "a", "ip4", "!#$%&'*+-/=?^_`{|}~.x")) assertTrue(ReceivedSpf.isDotAtom(atom), atom);
        for (String not : List.of("", ".a", "a.", "a..b", "ip4:192.0.2.1", "a b", "\u00e9")) assertFalse(ReceivedSpf.isDotAtom(not), not);
    }

    @Test void passHeader() throws Exception {
        SpfVerdict v = new SpfVerdict(SpfResult.PASS, null, "ip4:192.0.2.0/24", "example.com");
        String h = SPF.receivedSpfHeader(v, InetAddress.getByName("192.0.2.1"), "foo@example.com", "mail.example.com");
        assertEquals("pass (mx.receiver.example: domain of foo@example.com designates 192.0.2.1 as permitted sender)"
                + " client-ip=192.0.2.1; envelope-from=\"foo@example.com\"; helo=mail.example.com;"
                + " receiver=mx.receiver.example; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\"", h);
        assertEquals(Map.of("client-ip", "192.0.2.1", "envelope-from", "foo@example.com", "helo", "mail.example.com",
                "receiver", "mx.receiver.example", "identity", "mailfrom", "mechanism", "ip4:192.0.2.0/24"), parse(h));
    }

    @Test void nullSenderIsTheHeloIdentityAndErrorsAreProblems() throws Exception {
        SpfVerdict v = new SpfVerdict(SpfResult.PERMERROR, null, "more than 10 DNS-querying terms", "mail.example.com");
        String h = SPF.receivedSpfHeader(v, InetAddress.getByName("2001:db8::1"), "", "mail.example.com");
        Map<String, String> kv = parse(h);
        assertTrue(h.startsWith("permerror ("), h);
        assertEquals("helo", kv.get("identity"));
        assertEquals("", kv.get("envelope-from"));
        assertEquals("2001:db8::1", kv.get("client-ip"));
        assertTrue(h.contains("client-ip=\"2001:db8::1\""), "':' is not atext: quoted");
        assertEquals("more than 10 DNS-querying terms", kv.get("problem"));
        assertFalse(kv.containsKey("mechanism"));
    }

    @Test void injectionThroughHeloAndMailFromStaysInsideOneQuotedValue() throws Exception {
        String helo = "evil.example\r\nX-Injected: yes; receiver=\"forged\" \\ (x)";
        String from = "a\"b\r\n@x.example";
        SpfVerdict v = SPF.check(InetAddress.getByName("192.0.2.1"), from, helo);
        String h = SPF.receivedSpfHeader(v, InetAddress.getByName("192.0.2.1"), from, helo);
        for (char c : h.toCharArray()) assertTrue(c >= 0x20 && c < 0x7f, "only printable ASCII: " + (int) c);
        Map<String, String> kv = parse(h);
        assertEquals(List.of("client-ip", "envelope-from", "helo", "receiver", "identity"), List.copyOf(kv.keySet()),
                "no key added by the client: " + h);
        assertEquals("evil.example??X-Injected: yes; receiver=\"forged\" \\ (x)", kv.get("helo"));
        assertEquals("mx.receiver.example", kv.get("receiver"));
        assertEquals("a\"b??@x.example", kv.get("envelope-from"));
    }

    @Test void dnsTextInTheVerdictIsMadePrintable() throws Exception {
        SpfVerdict v = new SpfVerdict(SpfResult.FAIL, "bad\r\nX-Evil: 1", "-all\r\nX-Evil: 2", "example.com\n");
        assertEquals("bad??X-Evil: 1", v.explanation());
        assertEquals("-all??X-Evil: 2", v.reason());
        assertEquals("example.com?", v.domain());
        String h = SPF.receivedSpfHeader(v, InetAddress.getByName("192.0.2.1"), "x@example.com", "h.example.com");
        assertEquals("-all??X-Evil: 2", parse(h).get("mechanism"));
    }

    @Test void everyResultHasItsHeaderName() {
        for (SpfResult r : SpfResult.values()) assertEquals(r.name().toLowerCase(), r.headerName());
    }

    private static final Pattern HEAD = Pattern.compile(
            "(pass|fail|softfail|neutral|none|temperror|permerror) \\((?:[^()\\\\\\x00-\\x1f]|\\\\[\\x20-\\x7e])*\\) ");
    private static final Pattern PAIR = Pattern.compile(
            "([a-z-]+)=([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*|\"((?:[^\"\\\\\\x00-\\x1f]|\\\\[\\x20-\\x7e])*)\")(; |$)");

    /** Parses the field value by the grammar of 9.1 (one line, no folding); fails on anything else. */
    static Map<String, String> parse(String value) {
        Matcher head = HEAD.matcher(value);
        assertTrue(head.lookingAt(), "result and comment: " + value);
        Map<String, String> out = new LinkedHashMap<>();
        int at = head.end();
        Matcher pair = PAIR.matcher(value);
        while (at < value.length()) {
            assertTrue(pair.find(at) && pair.start() == at, "key=value at " + at + ": " + value);
            String v = pair.group(3) != null ? pair.group(3).replaceAll("\\\\(.)", "$1") : pair.group(2);
            assertEquals(null, out.put(pair.group(1), v), "key " + pair.group(1) + " twice");
            at = pair.end();
        }
        return out;
    }
}
