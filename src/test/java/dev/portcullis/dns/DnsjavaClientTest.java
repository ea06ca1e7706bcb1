package dev.portcullis.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestDns;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
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

    // ---- start(): answers already in the cache complete at once, on the calling thread -------------------

    @Test void startWithEveryAnswerCachedCompletesAtOnceOnTheCallingThread() {
        dns.a("cached.test", "192.0.2.7").mx("cached.test", 10, "mx.cached.test");
        client.a("cached.test");
        client.mx("cached.test");
        int before = dns.queryCount();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        CompletableFuture<String> f = client.start(() -> {
            ranOn.set(Thread.currentThread());
            return client.a("cached.test").records().getFirst().getHostAddress() + " " + client.mx("cached.test").records().getFirst().host();
        });
        assertTrue(f.isDone(), "completed before start returned");
        assertEquals("192.0.2.7 mx.cached.test", f.join());
        assertSame(Thread.currentThread(), ranOn.get());
        assertEquals(before, dns.queryCount());
    }

    @Test void startNeedingTheNetworkRunsOnAThreadOfItsOwnAndAsksOnce() throws Exception {
        dns.a("first.test", "192.0.2.1").a("later.test", "192.0.2.2").hold("later.test");
        client.a("first.test"); // cached; later.test is not
        int before = dns.queryCount();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        CompletableFuture<String> f = client.start(() -> {
            runs.incrementAndGet();
            ranOn.set(Thread.currentThread());
            return client.a("first.test").records().getFirst().getHostAddress() + " "
                    + client.a("later.test").records().getFirst().getHostAddress();
        });
        assertTrue(dns.awaitQueries(Duration.ofSeconds(5), "A later.test."));
        assertFalse(f.isDone(), "start returned while the answer was still held: the caller never waited for it");
        dns.release("later.test");
        assertEquals("192.0.2.1 192.0.2.2", f.join());
        assertNotSame(Thread.currentThread(), ranOn.get());
        assertEquals(2, runs.get(), "tried from the cache, then run again on its own thread");
        assertEquals(before + 1, dns.queryCount(), "the cache-only try sent nothing");
    }

    @Test void aNestedStartIsPartOfTheOuterTry() {
        dns.a("outer.test", "192.0.2.3").a("inner.test", "192.0.2.4");
        client.a("outer.test");
        AtomicReference<Thread> innerRanOn = new AtomicReference<>();
        CompletableFuture<String> f = client.start(() -> {
            CompletableFuture<String> inner = client.start(() -> {
                innerRanOn.set(Thread.currentThread());
                return client.a("inner.test").records().getFirst().getHostAddress();
            });
            return client.a("outer.test").records().getFirst().getHostAddress() + " " + inner.join();
        });
        assertEquals("192.0.2.3 192.0.2.4", f.join());
        assertNotSame(Thread.currentThread(), innerRanOn.get(), "the uncached inner lookup ended the whole try");
        // now both are cached: everything on the calling thread
        CompletableFuture<String> again = client.start(() -> client.start(() -> client.a("inner.test").records().size() + "").join());
        assertTrue(again.isDone());
        assertEquals("1", again.join());
    }

    @Test void startOfLookupsThatFailCompletesExceptionally() {
        CompletableFuture<Object> f = client.start(() -> { throw new IllegalStateException("bug"); });
        CompletionException e = assertThrows(CompletionException.class, f::join);
        assertEquals("bug", e.getCause().getMessage());
    }

    @Test void withoutACacheStartAlwaysRunsOnAThreadOfItsOwn() {
        dns.a("plain.test", "192.0.2.8");
        Dns uncached = new DnsjavaClient(List.of(dns.address()), Duration.ofMillis(500), 0, false);
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        assertEquals(1, uncached.start(() -> { ranOn.set(Thread.currentThread()); return uncached.a("plain.test").records().size(); }).join());
        assertNotSame(Thread.currentThread(), ranOn.get());
        // asked inside another client's cache-only try, it has no cache to answer from: the try ends, no error
        client.a("plain.test");
        assertEquals(1, client.start(() -> uncached.a("plain.test").records().size()).join());
    }
}
