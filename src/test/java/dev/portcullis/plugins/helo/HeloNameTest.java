package dev.portcullis.plugins.helo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.plugins.helo.HeloName.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The syntax half of the HELO checks: which kind of argument the client sent. */
@Timeout(10)
class HeloNameTest {

    @ParameterizedTest(name = "{0} is {1}")
    @CsvSource(delimiter = '|', value = {
            "mail.example.com        | HOSTNAME",
            "MAIL.Example.COM        | HOSTNAME",
            "mail.example.com.       | HOSTNAME",
            "a-b.example             | HOSTNAME",
            "xn--bcher-kva.example   | HOSTNAME",
            "exch_01.corp.example    | HOSTNAME",
            "123.example             | HOSTNAME",
            "mypc                    | HOSTNAME",
            "localhost               | HOSTNAME",
            "192.0.2.1               | BARE_IP",
            "192.0.2.1.              | BARE_IP",
            "2001:db8::1             | BARE_IP",
            "::1                     | BARE_IP",
            "[192.0.2.1]             | LITERAL",
            "[IPv6:2001:db8::1]      | LITERAL",
            "[ipv6:::1]              | LITERAL",
            "[192.0.2.1              | INVALID",
            "[]                      | INVALID",
            "[999.0.2.1]             | INVALID",
            "[2001:db8::1]           | INVALID",
            "[IPv6:not-an-address]   | INVALID",
            "[example.com]           | INVALID",
            "999.0.2.1               | INVALID",
            "1.2.3                   | INVALID",
            "12345                   | INVALID",
            "-lead.example           | INVALID",
            "trail-.example          | INVALID",
            "a..b.example            | INVALID",
            ".example                | INVALID",
            "bad!name.example        | INVALID",
            "with space.example      | INVALID",
            "host.example..          | INVALID",
            "abc:def                 | INVALID",
    })
    void classifies(String helo, Kind kind) {
        assertEquals(kind, HeloName.parse(helo).kind(), helo);
    }

    @Test
    void fqdnMeansAtLeastTwoLabels() {
        assertTrue(HeloName.parse("mail.example.com").fqdn());
        assertTrue(HeloName.parse("mail.example.com.").fqdn());
        assertFalse(HeloName.parse("mypc").fqdn());
        assertFalse(HeloName.parse("[192.0.2.1]").fqdn());
    }

    @Test
    void namesAreLowerCasedAndLiteralsParsed() {
        assertEquals("mail.example.com", HeloName.parse("MAIL.Example.COM.").name());
        assertEquals("192.0.2.1", HeloName.parse("[192.0.2.1]").address().getHostAddress());
        assertEquals("2001:db8:0:0:0:0:0:1", HeloName.parse("[IPv6:2001:db8::1]").address().getHostAddress());
    }

    @Test
    void lengthLimits() {
        String label63 = "a".repeat(63);
        assertEquals(Kind.HOSTNAME, HeloName.parse(label63 + ".example").kind());
        assertEquals(Kind.INVALID, HeloName.parse(label63 + "a.example").kind());
        String name = (label63 + ".").repeat(4) + "example"; // 263 octets
        HeloName tooLong = HeloName.parse(name);
        assertEquals(Kind.INVALID, tooLong.kind());
        assertNotNull(tooLong.problem());
    }
}
