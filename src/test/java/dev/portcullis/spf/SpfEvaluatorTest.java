package dev.portcullis.spf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.portcullis.testkit.TestDns;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** check_host() behaviour the RFC 7208 suite leaves open or reaches only by accident. */
@Timeout(30)
class SpfEvaluatorTest {
    private TestDns dns;
    private SpfEvaluator spf;
    private InetAddress client;

    @BeforeEach void start() throws Exception {
        dns = new TestDns();
        spf = new SpfEvaluator(dns.client(), "mx.receiver.example");
        client = InetAddress.getByName("192.0.2.1");
    }

    @AfterEach void stop() { dns.close(); }

    /** n includes of domains that exist and do not match, then -all. */
    private void includes(String domain, int n, String tail) {
        StringBuilder record = new StringBuilder("v=spf1");
        for (int i = 1; i <= n; i++) {
            record.append(" include:i").append(i).append(".example.com");
            dns.txt("i" + i + ".example.com", "v=spf1 ip4:198.51.100.1 -all");
        }
        dns.txt(domain, record.append(' ').append(tail).toString());
    }

    @Test void tenDnsTermsAreAllowedTheEleventhIsPermerror() {
        includes("ten.example.com", 10, "-all");
        assertEquals(SpfResult.FAIL, spf.check(client, "x@ten.example.com", "h.example.com").result());
        includes("eleven.example.com", 11, "-all");
        SpfVerdict v = spf.check(client, "x@eleven.example.com", "h.example.com");
        assertEquals(SpfResult.PERMERROR, v.result());
        assertEquals("more than 10 DNS-querying terms", v.reason());
    }

    @Test void aFollowedRedirectCountsAndTermsAfterAMatchDoNot() {
        includes("redir.example.com", 10, "redirect=target.example.com");
        dns.txt("target.example.com", "v=spf1 +all");
        assertEquals(SpfResult.PERMERROR, spf.check(client, "x@redir.example.com", "h").result());
        dns.txt("first.example.com", "v=spf1 ip4:192.0.2.1 " + "a ".repeat(20) + "-all");
        assertEquals(SpfResult.PASS, spf.check(client, "x@first.example.com", "h").result());
    }

    @Test void thirdVoidLookupIsPermerror() {
        dns.txt("voids.example.com", "v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com ?all");
        dns.txt("two.example.com", "v=spf1 a:n1.example.com mx:n2.example.com ?all");
        assertEquals(SpfResult.PERMERROR, spf.check(client, "x@voids.example.com", "h").result());
        assertEquals(SpfResult.NEUTRAL, spf.check(client, "x@two.example.com", "h").result());
    }

    @Test void ipv4MappedIpv6ClientIsIpv4() throws Exception {
        dns.txt("v4.example.com", "v=spf1 ip6:::ffff:192.0.2.1 ip4:192.0.2.1 -all");
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, 0, 2, 1};
        InetAddress ip = Inet6Address.getByAddress(null, mapped, -1);
        SpfVerdict v = spf.check(ip, "x@v4.example.com", "h");
        assertEquals(SpfResult.PASS, v.result());
        assertEquals("ip4:192.0.2.1", v.reason(), "ip6 never matches an IPv4 client");
    }

    @Test void servfailIsTemperrorAndNeverPermanent() {
        dns.servfail("broken.example.com");
        dns.txt("inc.example.com", "v=spf1 include:broken.example.com -all");
        dns.txt("ex.example.com", "v=spf1 exists:broken.example.com -all");
        assertEquals(SpfResult.TEMPERROR, spf.check(client, "x@broken.example.com", "h").result());
        assertEquals(SpfResult.TEMPERROR, spf.check(client, "x@inc.example.com", "h").result());
        assertEquals(SpfResult.TEMPERROR, spf.check(client, "x@ex.example.com", "h").result());
    }

    @Test void ptrLookupFailureMakesPtrNotMatch() {
        dns.servfail("1.2.0.192.in-addr.arpa");
        dns.txt("ptr.example.com", "v=spf1 ptr -all");
        assertEquals(SpfResult.FAIL, spf.check(client, "x@ptr.example.com", "h").result());
    }

    @Test void anMxHostThatFailsDoesNotHideOneThatMatches() {
        dns.txt("mx.example.com", "v=spf1 mx -all").mx("mx.example.com", 10, "bad.example.com")
                .mx("mx.example.com", 20, "good.example.com").servfail("bad.example.com").a("good.example.com", "192.0.2.1");
        assertEquals(SpfResult.PASS, spf.check(client, "x@mx.example.com", "h").result());
        dns.txt("mxbad.example.com", "v=spf1 mx -all").mx("mxbad.example.com", 10, "bad.example.com");
        assertEquals(SpfResult.TEMPERROR, spf.check(client, "x@mxbad.example.com", "h").result());
    }

    @Test void timeLimitGivesTemperror() {
        dns.txt("slow.example.com", "v=spf1 -all");
        SpfEvaluator hurried = new SpfEvaluator(dns.client(), "r", Clock.systemUTC(), Duration.ZERO);
        SpfVerdict v = hurried.check(client, "x@slow.example.com", "h");
        assertEquals(SpfResult.TEMPERROR, v.result());
    }

    @Test void explanationIsTheExpandedExpRecordOnFailOnly() throws Exception {
        dns.txt("exp.example.com", "v=spf1 ip4:192.0.2.9 -all exp=why.example.com")
                .txt("why.example.com", "%{l} may not send from %{c} for %{d} (%{r})");
        SpfVerdict fail = spf.check(client, "bob\r\n@exp.example.com", "h");
        assertEquals(SpfResult.FAIL, fail.result());
        assertEquals("bob?? may not send from 192.0.2.1 for exp.example.com (mx.receiver.example)", fail.explanation(),
                "client text in the explanation is made printable");
        SpfVerdict pass = spf.check(InetAddress.getByName("192.0.2.9"), "bob@exp.example.com", "h");
        assertEquals(SpfResult.PASS, pass.result());
        assertNull(pass.explanation());
    }

    @Test void nullSenderChecksTheHeloDomain() {
        dns.txt("mail.example.com", "v=spf1 a -all").a("mail.example.com", "192.0.2.1");
        SpfVerdict v = spf.check(client, "", "mail.example.com");
        assertEquals(SpfResult.PASS, v.result());
        assertEquals("mail.example.com", v.domain());
        assertEquals(SpfResult.NONE, spf.check(client, "", "[192.0.2.1]").result());
    }

    @Test void recordTextComesBackAsItsOctets() {
        // a quote in the record reaches the parser as a quote (a valid macro-literal), not as a backslash
        dns.txt("quote.example.com", "v=spf1 exists:%{l}.q\"t.example.com -all");
        dns.a("x.q\"t.example.com", "127.0.0.2");
        assertEquals(SpfResult.PASS, spf.check(client, "x@quote.example.com", "h").result());
    }

    @Test void ipLiterals() {
        assertArrayEquals(new byte[16], Ip.parseIp6("::"));
        assertEquals("2001:db8::1:0:0:1", Ip.readable(Ip.byAddress(Ip.parseIp6("2001:db8:0:0:1:0:0:1"))));
        assertEquals("2001:0:0:1::1", Ip.readable(Ip.byAddress(Ip.parseIp6("2001:0:0:1:0:0:0:1"))));
        assertEquals("2001:db8:0:1:1:1:1:1", Ip.readable(Ip.byAddress(Ip.parseIp6("2001:db8:0:1:1:1:1:1"))));
        assertEquals("::1", Ip.readable(Ip.byAddress(Ip.parseIp6("0:0:0:0:0:0:0:1"))));
        List<String> bad = new ArrayList<>(List.of("1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "12345::", "1:2:3:4:5:6:7",
                "::1.2.3", "::01.2.3.4", "g::1", ""));
        for (String b : bad) assertNull(Ip.parseIp6(b), b);
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 1, 2, 3, 4}, Ip.parseIp6("::FFFF:1.2.3.4"));
        for (String b : new String[] {"1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.-4", "1..3.4"}) {
            assertNull(Ip.parseIp4(b), b);
        }
    }

    /** start(): a check whose records are not cached yet is not an error of the cache-only try, and is run once more. */
    @Test void startedCheckIsTheSameWhetherItsRecordsAreCachedOrNot() {
        dns.txt("started.example.com", "v=spf1 include:inc.example.com -all").txt("inc.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
        var fresh = spf.start(client, "a@started.example.com", "h.example.com");
        assertEquals(SpfResult.PASS, fresh.join().result(), "fresh.join(): " + fresh.join());
        int asked = dns.queryCount();
        var cached = spf.start(client, "a@started.example.com", "h.example.com");
        assertEquals(true, cached.isDone());
        assertEquals(SpfResult.PASS, cached.join().result());
        assertEquals(asked, dns.queryCount());
    }
}
