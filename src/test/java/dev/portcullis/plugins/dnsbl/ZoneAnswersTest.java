package dev.portcullis.plugins.dnsbl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.dns.DnsAnswer;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class ZoneAnswersTest {

    static InetAddress ip(String s) throws Exception { return InetAddress.getByName(s); }

    static DnsAnswer<InetAddress> answer(String... ips) throws Exception {
        List<InetAddress> out = new ArrayList<>();
        for (String s : ips) out.add(ip(s));
        return DnsAnswer.ok(out);
    }

    @Test void ipv4QueryNameIsTheReversedOctets() throws Exception {
        // RFC 5782 2.1: 192.0.2.99 in dnsbl.example.net
        assertEquals("99.2.0.192.dnsbl.example.net", ZoneAnswers.queryName(ip("192.0.2.99"), "dnsbl.example.net"));
        assertEquals("2.0.0.127.bl.test", ZoneAnswers.queryName(ip("127.0.0.2"), "bl.test"));
    }

    @Test void ipv6QueryNameIsTheReversedNibbles() throws Exception {
        // RFC 5782 2.4's example
        assertEquals("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.test",
                ZoneAnswers.queryName(ip("2001:db8:1:2:3:4:567:89ab"), "bl.test"));
        assertEquals("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test",
                ZoneAnswers.queryName(ip("::1"), "bl.test"));
    }

    @Test void nxdomainAndNodataAreNotListed() {
        assertEquals(ZoneAnswers.Kind.NOT_LISTED, ZoneAnswers.evaluate("z", DnsAnswer.of(DnsAnswer.Status.NXDOMAIN)).kind());
        assertEquals(ZoneAnswers.Kind.NOT_LISTED, ZoneAnswers.evaluate("z", DnsAnswer.of(DnsAnswer.Status.NODATA)).kind());
    }

    @Test void timeoutIsAnErrorNotAListing() {
        var l = ZoneAnswers.evaluate("z", DnsAnswer.of(DnsAnswer.Status.TEMPFAIL));
        assertEquals(ZoneAnswers.Kind.ERROR, l.kind());
        assertTrue(l.codes().isEmpty());
    }

    @Test void refusalAnswersAreErrors() throws Exception {
        for (String code : List.of("127.255.255.254", "127.255.255.255", "127.255.255.252")) {
            var l = ZoneAnswers.evaluate("z", answer(code));
            assertEquals(ZoneAnswers.Kind.ERROR, l.kind(), code);
            assertTrue(l.reason().contains("refusal"), l.reason());
        }
    }

    @Test void answersOutsideLoopbackAreErrors() throws Exception {
        var l = ZoneAnswers.evaluate("z", answer("192.0.2.1"));
        assertEquals(ZoneAnswers.Kind.ERROR, l.kind());
        assertTrue(l.reason().contains("outside 127.0.0.0/8"), l.reason());
    }

    @Test void listingCodesKeepOnlyRealListings() throws Exception {
        var l = ZoneAnswers.evaluate("z", answer("127.0.0.2", "127.255.255.254", "198.51.100.7", "127.0.0.10"));
        assertEquals(ZoneAnswers.Kind.LISTED, l.kind());
        assertEquals("127.0.0.2,127.0.0.10", ZoneAnswers.codes(l.codes()));
        assertTrue(l.reason().contains("127.255.255.254") && l.reason().contains("198.51.100.7"), l.reason());
    }

    @Test void sanitiseKeepsPrintableAsciiOnly() {
        String s = ZoneAnswers.sanitise("Listed\r\n250 2.0.0 Ok\t\u0000 caf\u00e9  see   http://bl.test/?127.0.0.2", 200);
        assertEquals("Listed 250 2.0.0 Ok caf see http://bl.test/?127.0.0.2", s);
        assertFalse(s.contains("\r") || s.contains("\n"));
    }

    @Test void sanitiseTruncates() {
        assertEquals("abc", ZoneAnswers.sanitise("abc", 3));
        assertEquals("abc...", ZoneAnswers.sanitise("abcd", 3));
        assertEquals(203, ZoneAnswers.sanitise("x".repeat(5000), 200).length());
    }
}
