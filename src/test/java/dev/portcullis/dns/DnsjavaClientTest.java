package dev.portcullis.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestDns;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(20)
class DnsjavaClientTest {
    TestDns dns;
    Dns client;

    @BeforeEach void start() throws Exception {
        dns = new TestDns();
        client = dns.client();
    }

    @AfterEach void stop() { dns.close(); }

    @Test void answersEachTypeFromTheTestServer() throws Exception {
        dns.a("host.test", "192.0.2.1", "192.0.2.2").aaaa("host.test", "2001:db8::1")
                .txt("host.test", "v=spf1 " + "a".repeat(300) + " -all")
                .mx("mail.test", 10, "mx1.mail.test").mx("mail.test", 20, "mx2.mail.test")
                .ptr("192.0.2.1", "host.test");
        assertEquals(List.of(InetAddress.getByName("192.0.2.1"), InetAddress.getByName("192.0.2.2")),
                client.a("host.test").records().stream().sorted(java.util.Comparator.comparing(InetAddress::getHostAddress)).toList());
        assertEquals(List.of(InetAddress.getByName("2001:db8::1")), client.aaaa("host.test").records());
        assertEquals("v=spf1 " + "a".repeat(300) + " -all", client.txt("host.test").records().getFirst(),
                "strings of one TXT record are joined without spaces");
        assertEquals(2, client.mx("mail.test").records().size());
        assertEquals(List.of("host.test"), client.ptr(InetAddress.getByName("192.0.2.1")).records());
    }

    @Test void distinguishesNxdomainNodataAndTemporaryFailure() {
        dns.a("exists.test", "192.0.2.1").a("deep.parent.test", "192.0.2.3").timeout("slow.test").servfail("broken.test");
        assertEquals(DnsAnswer.Status.NXDOMAIN, client.a("missing.test").status());
        assertEquals(DnsAnswer.Status.NODATA, client.mx("exists.test").status());
        assertEquals(DnsAnswer.Status.NODATA, client.a("parent.test").status(), "empty non-terminal");
        assertTrue(client.a("slow.test").isTemporaryFailure());
        assertTrue(client.a("broken.test").isTemporaryFailure());
    }

    @Test void followsCnamesAndCachesByTtl() {
        dns.cname("alias.test", "real.test").a("real.test", "192.0.2.9");
        assertEquals("192.0.2.9", client.a("alias.test").records().getFirst().getHostAddress());
        int before = dns.queryCount();
        client.a("real.test");
        client.a("real.test");
        assertEquals(before, dns.queryCount(), "answers within their TTL come from the cache");
    }

    @Test void zeroTtlIsNotCached() {
        dns.ttl(0).a("fresh.test", "192.0.2.5");
        client.a("fresh.test");
        int before = dns.queryCount();
        client.a("fresh.test");
        assertEquals(before + 1, dns.queryCount());
    }

    @Test void onlyDnsIsAskedNeverTheHostsFile() {
        assertEquals(DnsAnswer.Status.NXDOMAIN, client.a("localhost").status(), "/etc/hosts has localhost; the test DNS server has not");
    }
}
