package dev.portcullis.spf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import dev.portcullis.testkit.TestDns;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Macro expansion, RFC 7208 section 7; the tables of 7.4 first. */
class MacroExpansionTest {
    private static final String SENDER = "strong-bad@email.example.com";
    private static final String DOMAIN = "email.example.com";
    private static final SpfEvaluator SPF = new SpfEvaluator(new NoDns(), "mx.receiver.example",
            Clock.fixed(Instant.ofEpochSecond(1_700_000_000L), ZoneOffset.UTC), Duration.ofSeconds(20));

    private static String expand(String macro, String ip) throws Exception {
        return SPF.expand(macro, false, InetAddress.getByName(ip), SENDER, "mail.example.org", DOMAIN);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "%{s},     strong-bad@email.example.com",
        "%{o},     email.example.com",
        "%{d},     email.example.com",
        "%{d4},    email.example.com",
        "%{d3},    email.example.com",
        "%{d2},    example.com",
        "%{d1},    com",
        "%{dr},    com.example.email",
        "%{d2r},   example.email",
        "%{l},     strong-bad",
        "%{l-},    strong.bad",
        "%{lr},    strong-bad",
        "%{lr-},   bad.strong",
        "%{l1r-},  strong",
        "%{ir}.%{v}._spf.%{d2},              3.2.0.192.in-addr._spf.example.com",
        "%{lr-}.lp._spf.%{d2},               bad.strong.lp._spf.example.com",
        "%{lr-}.lp.%{ir}.%{v}._spf.%{d2},    bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2},   3.2.0.192.in-addr.strong.lp._spf.example.com",
        "%{d2}.trusted-domains.example.net,  example.com.trusted-domains.example.net",
    })
    void rfc7208Section74Ipv4(String macro, String expansion) throws Exception {
        assertEquals(expansion, expand(macro, "192.0.2.3"));
    }

    @Test void rfc7208Section74Ipv6() throws Exception {
        assertEquals("1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com",
                expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"));
    }

    @Test void escapesAndUpperCaseUrlEncoding() throws Exception {
        assertEquals("a%b c%20d", expand("a%%b%_c%-d", "192.0.2.3"));
        assertEquals("strong-bad%40email.example.com", expand("%{S}", "192.0.2.3"));
        assertEquals("example.com", expand("%{D2}", "192.0.2.3"), "unreserved characters stay");
    }

    @Test void explanationOnlyLetters() throws Exception {
        InetAddress v6 = InetAddress.getByName("2001:db8::cb01");
        assertEquals("2001:db8::cb01 via mx.receiver.example at 1700000000",
                SPF.expand("%{c} via %{r} at %{t}", true, v6, SENDER, "h.example", DOMAIN));
        assertEquals("2001%3Adb8%3A%3Acb01", SPF.expand("%{C}", true, v6, SENDER, "h.example", DOMAIN));
        assertEquals("192.0.2.3", SPF.expand("%{c}", true, InetAddress.getByName("192.0.2.3"), SENDER, "h", DOMAIN));
        for (String letter : new String[] {"c", "r", "t"}) {
            assertThrows(SpfException.class, () -> expand("%{" + letter + "}.example.com", "192.0.2.3"),
                    "%{" + letter + "} outside explanations");
        }
    }

    @Test void nullSenderIsPostmasterAtHelo() throws Exception {
        InetAddress ip = InetAddress.getByName("192.0.2.3");
        assertEquals("postmaster@mail.example.org postmaster mail.example.org mail.example.org",
                SPF.expand("%{s} %{l} %{o} %{h}", true, ip, "", "mail.example.org", "mail.example.org"));
        assertEquals("postmaster@example.net", SPF.expand("%{s}", false, ip, "@example.net", "h", "example.net"),
                "an empty local-part is postmaster (4.3)");
    }

    @Test void ipv4MappedClientExpandsAsIpv4() throws Exception {
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, 0, 2, 3};
        InetAddress ip = Inet6Address.getByAddress(null, mapped, -1);
        assertTrue(ip instanceof Inet6Address);
        assertEquals("3.2.0.192.in-addr", SPF.expand("%{ir}.%{v}", false, ip, SENDER, "h", DOMAIN));
    }

    @Test void transformerBeyondThePartsKeepsAll() throws Exception {
        assertEquals("email.example.com", expand("%{d99}", "192.0.2.3"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"%", "a%", "%x", "%{x}", "%{a}", "%{d0}", "%{d2q}", "%{d", "%{}", "a b", "caf\u00e9", "tab\there"})
    void syntaxErrors(String bad) {
        assertThrows(SpfException.class, () -> Macro.check(bad, false), bad);
    }

    @Test void explanationAllowsSpacesButNotControls() throws Exception {
        Macro.check("Not allowed: see %{d}", true);
        assertThrows(SpfException.class, () -> Macro.check("line\r\nbreak", true));
        assertThrows(SpfException.class, () -> Macro.check("\u00efExplanation", true));
    }

    @Test void domainSpecEndsInMacroOrToplabel() {
        for (String ok : new String[] {"example.com", "example.com.", "%{d}", "_spf.%{d2}", "x.%%", "a.xn--zckzah",
                "foo:bar/baz.example.com", ".museum"}) {
            assertTrue(Macro.isDomainSpec(ok), ok);
        }
        for (String bad : new String[] {"", "museum", "museum.", "abc.123", "example.-com", "%{d}com",
                "example.com:8080", "foo.example.com/24", "a.b%", "foo bar.com"}) {
            assertFalse(Macro.isDomainSpec(bad), bad);
        }
    }

    @Test void pIsTheValidatedNameBelowTheDomainOrUnknown() throws Exception {
        try (TestDns dns = new TestDns()) {
            dns.ptr("192.0.2.3", "other.example.net", "mx.email.example.com", "liar.example.com")
                    .a("other.example.net", "192.0.2.3").a("mx.email.example.com", "192.0.2.3")
                    .a("liar.example.com", "192.0.2.99");
            SpfEvaluator spf = new SpfEvaluator(dns.client(), "r");
            InetAddress ip = InetAddress.getByName("192.0.2.3");
            assertEquals("mx.email.example.com", spf.expand("%{p}", false, ip, SENDER, "h", DOMAIN));
            assertEquals("other.example.net", spf.expand("%{p}", false, ip, SENDER, "h", "unrelated.example"));
            assertEquals("unknown", spf.expand("%{p}", false, InetAddress.getByName("192.0.2.4"), SENDER, "h", DOMAIN));
        }
    }

    /** A DNS where no name exists: expansion without %{p} must not need one. */
    static final class NoDns implements Dns {
        @Override public DnsAnswer<InetAddress> a(String name) { return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); }
        @Override public DnsAnswer<InetAddress> aaaa(String name) { return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); }
        @Override public DnsAnswer<String> txt(String name) { return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); }
        @Override public DnsAnswer<MxHost> mx(String name) { return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); }
        @Override public DnsAnswer<String> ptr(InetAddress address) { return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); }
    }
}
