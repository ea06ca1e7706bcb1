package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** RFC 5321 4.1.2 paths and ESMTP parameters, straight into the parser. */
@Timeout(10)
class PathParserTest {

    static PathParser.Parsed mail(String text) throws PathParser.PathException { return PathParser.parse(text, true); }

    static PathParser.Parsed rcpt(String text) throws PathParser.PathException { return PathParser.parse(text, false); }

    static PathParser.PathException rcptFails(String text) {
        return assertThrows(PathParser.PathException.class, () -> rcpt(text), text);
    }

    static String reply(PathParser.PathException e) { return e.code + " " + e.enhanced; }

    @Test
    void plainAddress() throws Exception {
        PathParser.Parsed p = rcpt("<Alice@Example.TEST>");
        assertEquals(new Address("Alice", "example.test", "Alice@Example.TEST"), p.address());
        assertEquals(Map.of(), p.parameters());
        assertFalse(p.postmaster());
    }

    @Test
    void oneSpaceAfterTheColonIsTolerated() throws Exception {
        assertEquals(Address.of("a", "b.test"), mail(" <a@b.test>").address());
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("  <a@b.test>"))));
    }

    @Test
    void quotedLocalPartMayHoldAtSignsSpacesAndEscapes() throws Exception {
        assertEquals(new Address("\"john doe@x\"", "example.test", "\"john doe@x\"@example.test"),
                rcpt("<\"john doe@x\"@example.test>").address());
        assertEquals("\"a\\\"b>c\"", rcpt("<\"a\\\"b>c\"@example.test>").address().localPart(), "escaped quote and a quoted '>'");
        assertEquals("\"\"", rcpt("<\"\"@example.test>").address().localPart());
        assertEquals("501 5.1.3", reply(rcptFails("<\"unterminated@example.test>")));
        assertEquals("501 5.1.3", reply(rcptFails("<\"a\"b@example.test>")));
        assertEquals("501 5.1.3", reply(rcptFails("<\"tab\there\"@example.test>")));
    }

    @Test
    void sourceRouteIsIgnoredButKeptInRaw() throws Exception {
        Address a = rcpt("<@a.test,@b.test:user@c.test>").address();
        assertEquals(new Address("user", "c.test", "@a.test,@b.test:user@c.test"), a);
        assertEquals("user@c.test", a.mailbox());
        assertEquals("501 5.1.3", reply(rcptFails("<@a.test,b.test:user@c.test>")));
        assertEquals("501 5.1.3", reply(rcptFails("<@a.test user@c.test>")));
        assertEquals("501 5.1.3", reply(rcptFails("<@:user@c.test>")));
        assertEquals("501 5.1.3", reply(rcptFails("<@[192.0.2.1]:user@c.test>")));
    }

    @Test
    void addressLiterals() throws Exception {
        assertEquals("[192.0.2.1]", rcpt("<user@[192.0.2.1]>").address().domain());
        assertEquals("[ipv6:2001:db8::1]", rcpt("<user@[IPv6:2001:db8::1]>").address().domain());
        assertEquals("user@[IPv6:2001:db8::1]", rcpt("<user@[IPv6:2001:db8::1]>").address().raw());
        assertEquals("[ipv6:::ffff:192.0.2.1]", rcpt("<user@[IPv6:::ffff:192.0.2.1]>").address().domain());
    }

    @ParameterizedTest
    @ValueSource(strings = {"<user@[300.1.1.1]>", "<user@[1.2.3]>", "<user@[1.2.3.4.5]>", "<user@[192.0.2.1>", "<user@192.0.2.1]>",
            "<user@[2001:db8::1]>", "<user@[tag:content]>", "<user@[]>"})
    void badAddressLiteralsAre501(String path) {
        assertEquals("501 5.1.3", reply(rcptFails(path)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"<user@[IPv6:1::2::3]>", "<user@[IPv6:12345::1]>", "<user@[IPv6::]>", "<user@[IPv6:1:2:3:4:5:6:7:8:9]>",
            "<user@[IPv6:1.2.3.4:]>"})
    void malformedIpv6LiteralsAre501(String path) {
        assertEquals("501 5.1.3", reply(rcptFails(path)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"<user@-bad-.com>", "<user@bad-.com>", "<user@-bad.com>", "<.user@x.test>", "<user.@x.test>",
            "<user..x@x.test>", "<user@x..test>", "<user@x.test.>", "<user@.x.test>", "<user@>", "<@x.test>", "<user>",
            "<a@b@c.test>", "<user@x_y.test>", "<us er@x.test>", "<user@x test>", "<user(comment)@x.test>", "<user@x.test"})
    void malformedPathsAreSyntaxErrors(String path) {
        PathParser.PathException e = rcptFails(path);
        assertEquals(501, e.code, path);
        assertTrue(e.enhanced.equals("5.1.3") || e.enhanced.equals("5.5.4"), path + ": " + e.enhanced);
    }

    @Test
    void missingBracketsAre501Syntax() {
        assertEquals("501 5.5.4", reply(rcptFails("user@x.test")));
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("user@x.test"))));
    }

    @Test
    void nullSenderOnlyForMail() throws Exception {
        PathParser.Parsed p = mail("<>");
        assertTrue(p.address().isNull());
        assertEquals(Map.of("SIZE", "10"), mail("<> SIZE=10").parameters());
        assertEquals("501 5.1.3", reply(rcptFails("<>")));
    }

    @Test
    void postmasterWithoutDomainOnlyForRcpt() throws Exception {
        PathParser.Parsed p = rcpt("<PostMaster>");
        assertTrue(p.postmaster());
        assertEquals("PostMaster", p.address().raw());
        assertTrue(rcpt("<@relay.test:postmaster>").postmaster(), "a source route in front is ignored too");
        assertEquals("501 5.1.7", reply(assertThrows(PathParser.PathException.class, () -> mail("<postmaster>"))));
        assertFalse(rcpt("<postmaster@example.test>").postmaster(), "with a domain it is an ordinary address");
    }

    @Test
    void parameters() throws Exception {
        PathParser.Parsed p = mail("<a@b.test> size=100 Body=8BITMIME SMTPUTF8");
        assertEquals(Map.of("SIZE", "100", "BODY", "8BITMIME", "SMTPUTF8", ""), p.parameters(), "keys upper-cased, values as sent");
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("<a@b.test> SIZE="))));
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("<a@b.test> =1"))));
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("<a@b.test> SIZE=1 SIZE=2"))));
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("<a@b.test>SIZE=1"))));
        assertEquals("501 5.5.4", reply(assertThrows(PathParser.PathException.class, () -> mail("<a@b.test> S_IZE=1"))));
        assertEquals(Map.of(), mail("<a@b.test>   ").parameters(), "trailing spaces are no parameters");
    }

    @Test
    void lengthLimits() throws Exception {
        String local64 = "l".repeat(64);
        assertEquals(local64, rcpt("<" + local64 + "@x.test>").address().localPart());
        assertEquals("553 5.1.3", reply(rcptFails("<" + local64 + "l@x.test>")));
        assertEquals("l".repeat(200), mail("<" + "l".repeat(200) + "@x.test>").address().localPart(), "senders may be VERP-long");
        String raw256 = "l".repeat(247) + "@x.test"; // 256 octets of path with the angle brackets
        assertEquals(254, raw256.length());
        assertEquals(raw256, mail("<" + raw256 + ">").address().raw());
        assertEquals("553 5.1.7", reply(assertThrows(PathParser.PathException.class, () -> mail("<l" + raw256 + ">"))));
        assertEquals("553 5.1.3", reply(rcptFails("<a@" + "d".repeat(63) + "." + "d".repeat(63) + "." + "d".repeat(63) + "." + "d".repeat(63) + ">")));
    }

    @Test
    void lengthsAreCountedInUtf8Octets() throws Exception {
        String local = "\u00e4".repeat(32); // 64 octets
        assertEquals(local, rcpt("<" + local + "@x.test>").address().localPart());
        assertEquals("553 5.1.3", reply(rcptFails("<" + local + "a@x.test>")));
    }

    @Test
    void nonAsciiIsParsedAndJudgedByTheCaller() throws Exception {
        Address a = mail("<j\u00f6rg@b\u00fccher.test> SMTPUTF8").address();
        assertEquals(new Address("j\u00f6rg", "b\u00fccher.test", "j\u00f6rg@b\u00fccher.test"), a);
        assertFalse(PathParser.isAscii(a.raw()));
        assertTrue(PathParser.isAscii("plain@ascii.test"));
    }

    @Test
    void domainRules() {
        assertTrue(PathParser.validDomain("a-b.example.test", false));
        assertTrue(PathParser.validDomain("x", false));
        assertTrue(PathParser.validDomain("a".repeat(63) + ".test", false));
        assertFalse(PathParser.validDomain("a".repeat(64) + ".test", false));
        assertFalse(PathParser.validDomain("", false));
        assertFalse(PathParser.validDomain("b\u00fccher.test", false));
        assertTrue(PathParser.validDomain("b\u00fccher.test", true));
    }
}
