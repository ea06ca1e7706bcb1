package dev.portcullis.plugins.karma;

import static dev.portcullis.testkit.FakeTransaction.address;
import static dev.portcullis.testkit.TextAssert.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.testkit.FakeSession;
import dev.portcullis.testkit.FakeTransaction;
import dev.portcullis.testkit.PluginHarness;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The score model's decisions and its history, with a fake clock and a real SQLite store. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class KarmaPluginTest {
    @TempDir Path dir;
    private PluginHarness h;

    @BeforeEach void setUp() { h = PluginHarness.in(dir); }

    @AfterEach void tearDown() { h.close(); }

    private KarmaPlugin karma(String settings) { return h.plugin("karma", settings); }

    private static final FakeTransaction TX = new FakeTransaction(address("sender@example.org"));

    private static HookResult rcpt(KarmaPlugin k, FakeSession s, String to) {
        return k.onRcpt(new RcptContext(s, TX, address(to), Map.of()));
    }

    /** A whole session as the core would run it, up to one RCPT; returns the RCPT answer. */
    private static HookResult session(KarmaPlugin k, FakeSession s, double checkScore) {
        assertInstanceOf(HookResult.Declined.class, k.onConnect(new ConnectContext(s)));
        if (checkScore != 0) s.trace().add("somecheck", "connect", "flag", checkScore, "test");
        return rcpt(k, s, "alice@example.test");
    }

    private static long karmaEntries(FakeSession s) {
        return s.trace().entries().stream().filter(e -> e.plugin().equals("karma")).count();
    }

    // ---- the formula ------------------------------------------------------------------------------

    @Test void historyTermIsWeightTimesClampedBadMinusGood() {
        assertEquals(0, KarmaPlugin.historyTerm(0, 0, 1));
        assertEquals(0, KarmaPlugin.historyTerm(4, 4, 1));
        assertEquals(-3, KarmaPlugin.historyTerm(3, 0, 1));
        assertEquals(2, KarmaPlugin.historyTerm(1, 3, 1));
        assertEquals(-5, KarmaPlugin.historyTerm(40, 1, 1));
        assertEquals(5, KarmaPlugin.historyTerm(0, 9, 1));
        assertEquals(-1.5, KarmaPlugin.historyTerm(3, 0, 0.5));
        assertEquals(0, KarmaPlugin.historyTerm(0, 9, 0));
    }

    @Test void outcomeCountsCheckRefusalsOnly() {
        Set<String> ignore = Set.of("greylist");
        var refused = new DecisionTrace();
        refused.add("dnsbl", "connect", "reject", 5, "listed");
        assertEquals("bad", KarmaPlugin.outcome(refused, true, ignore));

        var karmaRefused = new DecisionTrace();
        karmaRefused.add("karma", "rcpt", "tempfail", 0, "score");
        assertEquals("bad", KarmaPlugin.outcome(karmaRefused, false, ignore));

        var greylisted = new DecisionTrace();
        greylisted.add("greylist", "rcpt", "tempfail", 0, "first sight");
        assertNull(KarmaPlugin.outcome(greylisted, false, ignore), "greylisting alone says nothing");
        assertEquals("good", KarmaPlugin.outcome(greylisted, true, ignore));
        assertEquals("bad", KarmaPlugin.outcome(greylisted, true, Set.of()));

        var plain = new DecisionTrace();
        plain.add("rcpt", "rcpt", "deny", "550 5.1.1 user unknown"); // not a check verdict
        plain.add("helo", "helo", "flag", 1, "not a FQDN");
        plain.add("karma", "connect", "history", 2, "good=0 bad=2");
        assertEquals("good", KarmaPlugin.outcome(plain, true, ignore));
        assertNull(KarmaPlugin.outcome(plain, false, ignore));
        assertNull(KarmaPlugin.outcome(new DecisionTrace(), false, ignore));
    }

    // ---- connect: history and standing ------------------------------------------------------------

    @Test void aClientWithoutHistoryIsNeutralAndLeavesNoHistoryEntry() {
        var k = karma("");
        var s = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(s));
        assertTrue(s.trace().entries().isEmpty(), s.trace().toString());
        assertEquals(Optional.of(new KarmaPlugin.Standing(0, KarmaPlugin.Level.NEUTRAL)), s.notes().get(KarmaPlugin.STANDING));
    }

    @Test void historyIsATraceEntryAndSetsTheStanding() {
        var k = karma("");
        h.store.increment("karma", "good:192.0.2.1", 3, Duration.ofDays(30));
        var good = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(good));
        assertEquals("karma@connect=history(-3.0) \"good=3 bad=0\"", good.trace().toString());
        assertEquals(-3.0, good.trace().score());
        assertTrue(good.notes().get(KarmaPlugin.STANDING).orElseThrow().good());

        h.store.increment("karma", "good:192.0.2.2", 1, Duration.ofDays(30));
        h.store.increment("karma", "bad:192.0.2.2", 4, Duration.ofDays(30));
        var bad = new FakeSession("192.0.2.2");
        k.onConnect(new ConnectContext(bad));
        assertEquals("karma@connect=history(+3.0) \"good=1 bad=4\"", bad.trace().toString());
        assertTrue(bad.notes().get(KarmaPlugin.STANDING).orElseThrow().bad());

        h.store.increment("karma", "good:192.0.2.3", 2, Duration.ofDays(30));
        var neutral = new FakeSession("192.0.2.3");
        k.onConnect(new ConnectContext(neutral));
        assertEquals(KarmaPlugin.Level.NEUTRAL, neutral.notes().get(KarmaPlugin.STANDING).orElseThrow().level(),
                "-2 is not below good_below = -2");
    }

    @Test void standingThresholdsAndWeightAreConfigurable() {
        var k = karma("good_below = -0.5\nbad_above = 0.5\nhistory_weight = 0.4");
        h.store.increment("karma", "good:192.0.2.1", 2, Duration.ofDays(30));
        var s = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(s));
        KarmaPlugin.Standing st = s.notes().get(KarmaPlugin.STANDING).orElseThrow();
        assertEquals(-0.8, st.score(), 1e-9);
        assertTrue(st.good());
    }

    // ---- the decision -----------------------------------------------------------------------------

    @Test void aSumOverTheThresholdIsRefusedOnceAtRcpt() {
        var k = karma("");
        var s = new FakeSession("192.0.2.1");
        HookResult r = session(k, s, 6);
        HookResult.Deny deny = assertInstanceOf(HookResult.Deny.class, r);
        assertEquals(550, deny.reply().code());
        assertEquals("5.7.1", deny.reply().enhanced());
        assertFalse(deny.reply().text().contains("score"), "generic text: " + deny.reply());
        DecisionTrace.Entry e = s.trace().entries().getLast();
        assertEquals(List.of("karma", "rcpt", "reject"), List.of(e.plugin(), e.phase(), e.result()));
        assertEquals(0, e.score(), "karma's verdict adds nothing to the sum it judged");
        assertContains(e.reason(), "score 6 >= threshold 5");
        // the core refuses the further recipients of the session from this note, without asking again
        DeferredRejection d = s.notes().get(DeferredRejection.KEY).orElseThrow();
        assertEquals("karma", d.check());
        assertEquals(deny.reply(), d.reply());
        // asked again anyway: the same answer, still one entry
        assertEquals(r, rcpt(k, s, "bob@example.test"));
        assertEquals(1, karmaEntries(s));
        assertTrue(s.notes().get(KarmaPlugin.STANDING).orElseThrow().bad());
    }

    @Test void postmasterAndAbuseGetThroughEvenAfterTheRefusal() {
        var k = karma("");
        var s = new FakeSession("192.0.2.1");
        assertInstanceOf(HookResult.Deny.class, session(k, s, 9));
        assertInstanceOf(HookResult.Declined.class, rcpt(k, s, "postmaster@example.test"));
        assertInstanceOf(HookResult.Declined.class, rcpt(k, s, "Abuse@example.test"));
        assertInstanceOf(HookResult.Deny.class, rcpt(k, s, "abuse@elsewhere.example"));
        var fresh = new FakeSession("192.0.2.2");
        fresh.trace().add("somecheck", "connect", "flag", 9, "test");
        assertInstanceOf(HookResult.Declined.class, rcpt(k, fresh, "postmaster@example.test"));
        assertEquals(0, karmaEntries(fresh));
    }

    @Test void belowTheThresholdPassesSilentlyAndTheThresholdIsInclusive() {
        var k = karma("");
        var s = new FakeSession("192.0.2.1");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 4.9));
        assertEquals(0, karmaEntries(s));
        assertEquals(KarmaPlugin.Level.BAD, s.notes().get(KarmaPlugin.STANDING).orElseThrow().level(), "4.9 > bad_above");
        s.trace().add("other", "rcpt", "flag", 0.1, "test");
        assertInstanceOf(HookResult.Deny.class, rcpt(k, s, "bob@example.test"));
    }

    @Test void negativeScoresLowerTheSum() {
        var k = karma("threshold = 3");
        var s = new FakeSession("192.0.2.1");
        s.trace().add("dnswl", "connect", "pass", -2, "listed");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 4));
        s.trace().add("greylist", "rcpt", "pass", -1, "retried");
        assertInstanceOf(HookResult.Declined.class, rcpt(k, s, "bob@example.test"));
    }

    @Test void historyCountsTowardTheSum() {
        var k = karma("");
        h.store.increment("karma", "bad:192.0.2.1", 3, Duration.ofDays(30));
        var s = new FakeSession("192.0.2.1");
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class, session(k, s, 2));
        assertContains(s.trace().toString(), "karma@connect=history(+3.0)");
        assertContains(s.trace().entries().getLast().reason(), "score 5 >= threshold 5");
        assertEquals(550, d.reply().code());
    }

    @Test void itDecidesOnlyAtItsPhase() {
        var k = karma("phase = \"mail\"");
        var s = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(s));
        s.trace().add("somecheck", "connect", "flag", 7, "test");
        assertInstanceOf(HookResult.Declined.class, k.onHelo(new HeloContext(s, "x.example", true)));
        HookResult r = k.onMail(new MailContext(s, TX, TX.sender(), Map.of()));
        assertEquals(550, assertInstanceOf(HookResult.Deny.class, r).reply().code());
        assertEquals(r, k.onMail(new MailContext(s, TX, TX.sender(), Map.of())), "decides once, repeats the answer");
        assertInstanceOf(HookResult.Declined.class, k.onData(new DataContext(s, TX, false)));
        assertEquals(1, karmaEntries(s));
        assertFalse(s.notes().has(DeferredRejection.KEY), "refused at MAIL: no RCPT to defer to");
    }

    @Test void atConnectTheRefusalIs554() {
        var k = karma("phase = \"connect\"");
        var s = new FakeSession("192.0.2.1");
        s.trace().add("dnsbl", "connect", "flag", 8, "listed");
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class, k.onConnect(new ConnectContext(s)));
        assertEquals(554, d.reply().code());
        assertEquals("5.7.1", d.reply().enhanced());
    }

    @Test void atDataTheWholeMessageIsRefused() {
        var k = karma("phase = \"data\"");
        var s = new FakeSession("192.0.2.1");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 5));
        assertEquals(550, assertInstanceOf(HookResult.Deny.class, k.onData(new DataContext(s, TX, false))).reply().code());
    }

    @Test void tempfailAndDisconnectActions() {
        var soft = karma("action = \"tempfail\"");
        var s = new FakeSession("192.0.2.1");
        HookResult.DenySoft d = assertInstanceOf(HookResult.DenySoft.class, session(soft, s, 6));
        assertEquals(451, d.reply().code());
        assertEquals("4.7.1", d.reply().enhanced());
        assertEquals(451, s.notes().get(DeferredRejection.KEY).orElseThrow().reply().code());
        assertEquals("tempfail", s.trace().entries().getLast().result());

        var hard = karma("action = \"disconnect\"");
        var s2 = new FakeSession("192.0.2.2");
        assertTrue(assertInstanceOf(HookResult.Deny.class, session(hard, s2, 6)).disconnect());
    }

    @Test void flagModeRecordsOnceAndRefusesNothing() {
        var k = karma("action = \"flag\"");
        var s = new FakeSession("192.0.2.1");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 6));
        assertInstanceOf(HookResult.Declined.class, rcpt(k, s, "bob@example.test"));
        assertEquals(1, karmaEntries(s));
        assertEquals("flag", s.trace().entries().getLast().result());
        assertFalse(s.notes().has(DeferredRejection.KEY));
    }

    @Test void offDoesNothingAtAll() {
        var k = karma("action = \"off\"");
        h.store.increment("karma", "bad:192.0.2.1", 5, Duration.ofDays(30));
        var s = new FakeSession("192.0.2.1");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 50));
        assertEquals(0, karmaEntries(s));
        assertFalse(s.notes().has(KarmaPlugin.STANDING));
        k.onDisconnect(new DisconnectContext(s));
        assertEquals(Optional.of("5"), h.store.get("karma", "bad:192.0.2.1"));
    }

    @Test void exemptClientsAreNeitherJudgedNorRemembered() {
        var k = karma("");
        var s = new FakeSession("192.0.2.1");
        s.notes().put(CheckPolicy.ALLOWLISTED, "dnswl");
        assertInstanceOf(HookResult.Declined.class, session(k, s, 20));
        var auth = new FakeSession("192.0.2.1");
        auth.authenticatedUser = "alice";
        assertInstanceOf(HookResult.Declined.class, session(k, auth, 20));
        for (FakeSession x : List.of(s, auth)) {
            assertEquals(0, karmaEntries(x));
            assertFalse(x.notes().has(KarmaPlugin.STANDING));
            x.trace().add("dnsbl", "connect", "reject", 0, "would be bad");
            k.onDisconnect(new DisconnectContext(x));
        }
        assertEquals(Optional.empty(), h.store.get("karma", "bad:192.0.2.1"));
        assertEquals(Optional.empty(), h.store.get("karma", "good:192.0.2.1"));
    }

    // ---- history ----------------------------------------------------------------------------------

    @Test void disconnectCountsGoodBadAndNeutralSessions() {
        var k = karma("");
        // good: delivered, never refused
        var good = new FakeSession("192.0.2.1");
        session(k, good, 0);
        good.messagesAccepted = 1;
        k.onDisconnect(new DisconnectContext(good));
        // bad: refused by karma
        var bad = new FakeSession("192.0.2.1");
        session(k, bad, 6);
        k.onDisconnect(new DisconnectContext(bad));
        // neutral: connected and left
        var idle = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(idle));
        k.onDisconnect(new DisconnectContext(idle));
        // neutral: greylisted and left
        var grey = new FakeSession("192.0.2.1");
        session(k, grey, 0);
        grey.trace().add("greylist", "rcpt", "tempfail", 0, "first sight");
        k.onDisconnect(new DisconnectContext(grey));

        assertEquals(Optional.of("1"), h.store.get("karma", "good:192.0.2.1"));
        assertEquals(Optional.of("1"), h.store.get("karma", "bad:192.0.2.1"));
        var next = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(next));
        assertEquals("karma@connect=history \"good=1 bad=1\"", next.trace().toString());
    }

    @Test void historyExpiresAfterHistoryTtl() {
        var k = karma("history_ttl = \"1d\"");
        var bad = new FakeSession("192.0.2.1");
        session(k, bad, 6);
        k.onDisconnect(new DisconnectContext(bad));
        h.clock.advance(Duration.ofHours(23));
        var s = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(s));
        assertEquals(1.0, s.trace().score());
        h.clock.advance(Duration.ofHours(1));
        var later = new FakeSession("192.0.2.1");
        k.onConnect(new ConnectContext(later));
        assertTrue(later.trace().entries().isEmpty(), later.trace().toString());
    }

    @Test void historyIgnoreIsConfigurable() {
        var k = karma("history_ignore = []");
        var grey = new FakeSession("192.0.2.1");
        session(k, grey, 0);
        grey.trace().add("greylist", "rcpt", "tempfail", 0, "first sight");
        k.onDisconnect(new DisconnectContext(grey));
        assertEquals(Optional.of("1"), h.store.get("karma", "bad:192.0.2.1"));
    }

    // ---- settings ---------------------------------------------------------------------------------

    @Test void settingsThatMakeNoSenseStopStartUp() {
        assertSettingError("phase = \"queue\"", "phase", "connect, helo, mail, rcpt, data");
        assertSettingError("action = \"maybe\"", "action", "reject");
        assertSettingError("good_below = 3", "good_below", "bad_above");
        assertSettingError("history_weight = -1", "history_weight", "negative");
        assertSettingError("history_ttl = \"0s\"", "history_ttl", "zero");
        assertSettingError("score = 2", "score", "unknown setting");
        assertSettingError("defer_to_rcpt = true", "defer_to_rcpt", "unknown setting");
    }

    private void assertSettingError(String settings, String key, String words) {
        var e = assertThrows(PluginSettings.SettingException.class, () -> karma(settings), settings);
        assertContains(e.getMessage(), key);
        assertContains(e.getMessage(), words);
    }
}
