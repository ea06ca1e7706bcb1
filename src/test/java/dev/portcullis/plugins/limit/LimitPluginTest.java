package dev.portcullis.plugins.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.ResetContext;
import dev.portcullis.hook.StateStore;
import dev.portcullis.testkit.FakeSession;
import dev.portcullis.testkit.FakeTransaction;
import dev.portcullis.testkit.MutableClock;
import dev.portcullis.plugins.limit.LimitPlugin.Limits;
import dev.portcullis.store.SqliteStateStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The counting and the decisions of the limit plugin, without a socket. */
@Timeout(30)
class LimitPluginTest {

    /** A transaction from a@remote.test holding {@code recipients}. */
    static FakeTransaction tx(String... recipients) { return new FakeTransaction("a@remote.test").to(recipients); }

    final MutableClock clock = new MutableClock();
    final SqliteStateStore store = SqliteStateStore.inMemory(clock);

    @AfterEach
    void close() { store.close(); }

    LimitPlugin plugin(int concurrent, int perMinute, int messages, int recipients) {
        return plugin(new Limits(concurrent, perMinute, messages, recipients, true, 32, 128), store);
    }

    static LimitPlugin plugin(Limits limits, StateStore store) { return new LimitPlugin(limits, store); }

    /** pre_connect then connect, as the core does. */
    static HookResult arrive(LimitPlugin p, FakeSession s) {
        p.onPreConnect(new ConnectContext(s));
        return p.onConnect(new ConnectContext(s));
    }

    static void leave(LimitPlugin p, FakeSession s) { p.onDisconnect(new DisconnectContext(s)); }

    static void assertRefused(HookResult r, int code, String enhanced) {
        HookResult.DenySoft d = assertInstanceOf(HookResult.DenySoft.class, r);
        assertEquals(code, d.reply().code());
        assertEquals(enhanced, d.reply().enhanced());
    }

    // ---- concurrent connections -------------------------------------------------------------------

    @Test
    void eleventhConcurrentConnectionIsRefusedAndNothingLeaks() {
        LimitPlugin p = plugin(10, 0, 0, 0);
        List<FakeSession> open = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            FakeSession s = new FakeSession("198.51.100.7");
            assertSame(HookResult.DECLINED, arrive(p, s));
            open.add(s);
        }
        FakeSession eleventh = new FakeSession("198.51.100.7");
        assertRefused(arrive(p, eleventh), 421, "4.7.0");
        assertEquals("tempfail", eleventh.trace().entries().getLast().result());
        assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.8")), "another address is not counted with it");

        leave(p, eleventh); // the refused connection ends
        assertEquals(10, p.openConnections().get("198.51.100.7"));
        leave(p, open.removeFirst());
        FakeSession again = new FakeSession("198.51.100.7");
        assertSame(HookResult.DECLINED, arrive(p, again), "a place is free again");
        open.add(again);
        for (FakeSession s : open) leave(p, s);
        assertEquals(Map.of("198.51.100.8", 1), p.openConnections());
    }

    @Test
    void disconnectIsIdempotentAndNeverGoesBelowZero() {
        LimitPlugin p = plugin(2, 0, 0, 0);
        FakeSession a = new FakeSession("198.51.100.7");
        FakeSession b = new FakeSession("198.51.100.7");
        arrive(p, a);
        arrive(p, b);
        leave(p, a);
        leave(p, a); // the core calls disconnect once, but twice must not free b's place
        assertEquals(1, p.openConnections().get("198.51.100.7"));
        leave(p, new FakeSession("198.51.100.7")); // never counted
        assertEquals(1, p.openConnections().get("198.51.100.7"));
        leave(p, b);
        assertTrue(p.openConnections().isEmpty());
    }

    @Test
    void connectionRefusedByAnEarlierPluginIsUncountedToo() {
        LimitPlugin p = plugin(1, 0, 0, 0);
        FakeSession s = new FakeSession("198.51.100.7");
        p.onPreConnect(new ConnectContext(s)); // counted; another plugin refuses before our connect hook runs
        leave(p, s);
        assertTrue(p.openConnections().isEmpty());
        assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.7")));
    }

    @Test
    void exactlyTheConnectionsOverTheLimitAreRefusedUnderContention() throws Exception {
        LimitPlugin p = plugin(10, 0, 0, 0);
        int n = 200;
        CountDownLatch allIn = new CountDownLatch(n);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger refused = new AtomicInteger();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> tasks = new ArrayList<>();
            for (int i = 0; i < n; i++)
                tasks.add(pool.submit(() -> {
                    FakeSession s = new FakeSession("198.51.100.7");
                    if (!(arrive(p, s) instanceof HookResult.Declined)) refused.incrementAndGet();
                    allIn.countDown();
                    release.await();
                    leave(p, s);
                    return null;
                }));
            allIn.await();
            assertEquals(n - 10, refused.get());
            release.countDown();
            for (Future<?> f : tasks) f.get();
        }
        assertTrue(p.openConnections().isEmpty(), p.openConnections().toString());
    }

    @Test
    void trustedClientsAreNotLimitedUnlessAsked() {
        LimitPlugin p = plugin(1, 1, 1, 1);
        for (int i = 0; i < 3; i++) assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.7").relay(true)));
        for (int i = 0; i < 3; i++) assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.9").allow(true)));
        LimitPlugin strict = plugin(new Limits(1, 0, 0, 0, false, 32, 128), store);
        arrive(strict, new FakeSession("198.51.100.7").relay(true));
        assertRefused(arrive(strict, new FakeSession("198.51.100.7").relay(true)), 421, "4.7.0");
    }

    @Test
    void clientKeysHonourThePrefixes() {
        LimitPlugin exact = plugin(1, 0, 0, 0);
        assertEquals("198.51.100.7", exact.clientKey(FakeSession.ip("198.51.100.7")));
        assertEquals("2001:db8:0:0:0:0:0:7", exact.clientKey(FakeSession.ip("2001:db8::7")));
        LimitPlugin nets = plugin(new Limits(1, 0, 0, 0, true, 24, 64), store);
        assertEquals("198.51.100.0/24", nets.clientKey(FakeSession.ip("198.51.100.7")));
        assertEquals("2001:db8:0:1:0:0:0:0/64", nets.clientKey(FakeSession.ip("2001:db8:0:1:aaaa::7")));
        assertEquals("2001:db8:0:1:0:0:0:0/64", nets.clientKey(FakeSession.ip("2001:db8:0:1:bbbb::9")));
        arrive(nets, new FakeSession("2001:db8:0:1:aaaa::7"));
        assertRefused(arrive(nets, new FakeSession("2001:db8:0:1:bbbb::9")), 421, "4.7.0");
    }

    // ---- connection rate --------------------------------------------------------------------------

    @Test
    void connectionRateInAOneMinuteWindow() {
        LimitPlugin p = plugin(0, 3, 0, 0);
        for (int i = 0; i < 3; i++) {
            FakeSession s = new FakeSession("198.51.100.7");
            assertSame(HookResult.DECLINED, arrive(p, s));
            leave(p, s);
        }
        FakeSession fourth = new FakeSession("198.51.100.7");
        assertRefused(arrive(p, fourth), 421, "4.7.0");
        assertTrue(fourth.trace().entries().getLast().reason().contains("4 connections"), fourth.trace().toString());
        assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.8")));
        clock.advance(Duration.ofSeconds(61));
        assertSame(HookResult.DECLINED, arrive(p, new FakeSession("198.51.100.7")), "a new minute, a new count");
    }

    @Test
    void storeFailureSkipsTheRateNeverRefuses() {
        StateStore broken = new StateStore() {
            @Override public java.util.Optional<String> get(String ns, String k) { throw new IllegalStateException("disk gone"); }
            @Override public void put(String ns, String k, String v, Duration ttl) { throw new IllegalStateException("disk gone"); }
            @Override public long increment(String ns, String k, long d, Duration w) { throw new IllegalStateException("disk gone"); }
            @Override public void delete(String ns, String k) { throw new IllegalStateException("disk gone"); }
        };
        LimitPlugin p = plugin(new Limits(0, 1, 0, 0, true, 32, 128), broken);
        FakeSession s = new FakeSession("198.51.100.7");
        assertSame(HookResult.DECLINED, arrive(p, s));
        assertEquals("skip", s.trace().entries().getLast().result());
    }

    // ---- messages and recipients ------------------------------------------------------------------

    static HookResult mail(LimitPlugin p, FakeSession s, FakeTransaction tx) {
        return p.onMail(new MailContext(s, tx, tx.sender(), Map.of()));
    }

    static HookResult rcpt(LimitPlugin p, FakeSession s, FakeTransaction tx) {
        return p.onRcpt(new RcptContext(s, tx, Address.of("x", "example.test"), Map.of()));
    }

    @Test
    void messagesPerConnectionAreRefusedAtTheNextMail() {
        LimitPlugin p = plugin(0, 0, 2, 0);
        FakeSession s = new FakeSession("198.51.100.7");
        for (int i = 0; i < 2; i++) {
            FakeTransaction tx = tx("u0@example.test");
            assertSame(HookResult.DECLINED, mail(p, s, tx));
            p.onData(new DataContext(s, tx, false));
        }
        assertRefused(mail(p, s, tx()), 451, "4.7.1");
        assertTrue(s.trace().entries().getLast().reason().contains("2 messages"));
        FakeSession fresh = new FakeSession("198.51.100.7");
        assertSame(HookResult.DECLINED, mail(p, fresh, tx()), "a new connection starts at zero");
        assertSame(HookResult.DECLINED, mail(p, new FakeSession("198.51.100.7").authenticated("alice"), tx()));
    }

    @Test
    void abandonedTransactionsAreNotMessages() {
        LimitPlugin p = plugin(0, 0, 1, 0);
        FakeSession s = new FakeSession("198.51.100.7");
        for (int i = 0; i < 5; i++) {
            FakeTransaction tx = tx("u0@example.test");
            assertSame(HookResult.DECLINED, mail(p, s, tx));
            p.onReset(new ResetContext(s, tx));
        }
    }

    @Test
    void recipientsCountAcrossTransactionsIncludingAbandonedOnes() {
        LimitPlugin p = plugin(0, 0, 0, 5);
        FakeSession s = new FakeSession("198.51.100.7");
        FakeTransaction first = tx("u0@example.test", "u1@example.test");
        p.onData(new DataContext(s, first, false));
        p.onReset(new ResetContext(s, first)); // a reset after DATA must not count them twice
        FakeTransaction second = tx("u0@example.test", "u1@example.test");
        p.onReset(new ResetContext(s, second)); // RSET: still counted
        FakeTransaction third = tx();
        assertSame(HookResult.DECLINED, rcpt(p, s, third)); // 4 so far: the fifth may be asked for
        third.to("u0@example.test");
        assertRefused(rcpt(p, s, third), 451, "4.7.1");
        assertTrue(s.trace().entries().getLast().reason().contains("5 recipients"), s.trace().toString());
    }
}
