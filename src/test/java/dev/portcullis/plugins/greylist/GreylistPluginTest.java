package dev.portcullis.plugins.greylist;

import static dev.portcullis.testkit.FakeSession.ip;
import static dev.portcullis.testkit.FakeTransaction.address;
import static dev.portcullis.testkit.TextAssert.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.plugins.karma.KarmaPlugin;
import dev.portcullis.testkit.FakeSession;
import dev.portcullis.testkit.FakeTransaction;
import dev.portcullis.testkit.PluginHarness;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The greylisting decisions, with a clock the test moves and a real SQLite store in a temporary folder. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GreylistPluginTest {
    private static final String SENDER = "sender@example.org";
    private static final String ALICE = "alice@example.test";
    private static final String BOB = "bob@example.test";

    @TempDir Path dir;
    private PluginHarness h;

    @BeforeEach void setUp() { h = PluginHarness.in(dir); }

    @AfterEach void tearDown() { h.close(); }

    private GreylistPlugin greylist(String settings) { return h.plugin("greylist", settings); }

    private static HookResult rcpt(GreylistPlugin p, FakeSession s, String from, String to) {
        return p.onRcpt(new RcptContext(s, new FakeTransaction(address(from)), address(to), Map.of()));
    }

    /** One new session from {@code ip} trying one recipient. */
    private static HookResult attempt(GreylistPlugin p, String ip, String from, String to) {
        return rcpt(p, new FakeSession(ip), from, to);
    }

    private static void assertGreylisted(HookResult r) {
        HookResult.DenySoft soft = assertInstanceOf(HookResult.DenySoft.class, r, "expected 451, got " + r);
        assertEquals(451, soft.reply().code());
        assertEquals("4.7.1", soft.reply().enhanced());
        assertEquals("Greylisted, please try again later", soft.reply().text());
        assertFalse(soft.disconnect());
    }

    private static void assertPasses(HookResult r) {
        assertInstanceOf(HookResult.Declined.class, r, "expected the triplet to pass (declined), got " + r);
    }

    @Test void firstSightIsRefusedWith451AndTraced() {
        var p = greylist("");
        var s = new FakeSession("192.0.2.10");
        assertGreylisted(rcpt(p, s, SENDER, ALICE));
        DecisionTrace.Entry e = s.trace().entries().getFirst();
        assertEquals("greylist", e.plugin());
        assertEquals("rcpt", e.phase());
        assertEquals("tempfail", e.result());
        assertEquals(0, e.score());
        assertContains(e.reason(), "192.0.2.0/24");
    }

    @Test void earlyRetryIsRefusedAgainWithoutResettingTheFirstSeenTime() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(4));
        var early = new FakeSession("192.0.2.10");
        assertGreylisted(rcpt(p, early, SENDER, ALICE));
        assertContains(early.trace().entries().getFirst().reason(), "retry after 240s");
        // 6 minutes after the first sight, 2 after the early retry: passes only if the retry did not reset the clock
        h.clock.advance(Duration.ofMinutes(2));
        assertPasses(attempt(p, "192.0.2.10", SENDER, ALICE));
    }

    @Test void retryAfterTheDelayPassesWithANegativeScoreAndIsRemembered() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(5));
        var retry = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, retry, SENDER, ALICE));
        DecisionTrace.Entry e = retry.trace().entries().getFirst();
        assertEquals("pass", e.result());
        assertEquals(-1.0, e.score());
        assertContains(e.reason(), "retried after 300s");

        // remembered for pass_ttl (36 days), refreshed by each pass
        h.clock.advance(Duration.ofDays(30));
        var later = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, later, SENDER, ALICE));
        assertContains(later.trace().entries().getFirst().reason(), "known triplet");
        h.clock.advance(Duration.ofDays(30)); // 60 days after the first pass, 30 after the refresh
        assertPasses(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofDays(36)); // unused for a whole pass_ttl: forgotten
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
    }

    @Test void anUnretriedEntryExpiresAfterTheRetryWindow() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, BOB));
        h.clock.advance(Duration.ofHours(48).minusMinutes(1));
        assertPasses(attempt(p, "192.0.2.10", SENDER, ALICE)); // inside the window
        h.clock.advance(Duration.ofMinutes(1));
        // bob's triplet waited 48h without a retry: forgotten, so this is a first sight again, with a new clock
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, BOB));
        h.clock.advance(Duration.ofMinutes(4));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, BOB));
        h.clock.advance(Duration.ofMinutes(1));
        assertPasses(attempt(p, "192.0.2.10", SENDER, BOB));
    }

    @Test void aRetryFromAnotherAddressOfTheSame24PassesButNotFromAnother24() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(p, "192.0.2.200", SENDER, ALICE));
        assertGreylisted(attempt(p, "192.0.3.10", SENDER, ALICE));
    }

    @Test void ipv6ClientsAreGroupedBy64() {
        var p = greylist("");
        assertGreylisted(attempt(p, "2001:db8:1:2::1", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(p, "2001:db8:1:2:ffff:ffff:ffff:9", SENDER, ALICE));
        assertGreylisted(attempt(p, "2001:db8:1:3::1", SENDER, ALICE));
    }

    @Test void prefixesAreConfigurable() {
        var p = greylist("ipv4_prefix = 32\nipv6_prefix = 48");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        assertGreylisted(attempt(p, "2001:db8:1:2::1", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        assertGreylisted(attempt(p, "192.0.2.11", SENDER, ALICE)); // /32: another address is another client
        assertPasses(attempt(p, "192.0.2.10", SENDER, ALICE));
        assertPasses(attempt(p, "2001:db8:1:ff::7", SENDER, ALICE)); // same /48
    }

    @Test void networkTextMasksTheHostBits() {
        assertEquals("192.0.2.0/24", GreylistPlugin.network(ip("192.0.2.77"), 24, 64));
        assertEquals("192.0.0.0/20", GreylistPlugin.network(ip("192.0.15.77"), 20, 64));
        assertEquals("192.0.2.77/32", GreylistPlugin.network(ip("192.0.2.77"), 32, 64));
        assertEquals("2001:db8:1:2:0:0:0:0/64", GreylistPlugin.network(ip("2001:db8:1:2:3:4:5:6"), 24, 64));
        assertEquals("2001:db8:1:0:0:0:0:0/56", GreylistPlugin.network(ip("2001:db8:1:ff:3:4:5:6"), 24, 56));
    }

    @Test void senderAndRecipientCompareCaseInsensitively() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(p, "192.0.2.10", "Sender@EXAMPLE.org", "Alice@Example.TEST"));
    }

    @Test void theNullSenderIsGreylistedToo() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", "", ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE)); // another triplet
        assertPasses(attempt(p, "192.0.2.10", "", ALICE));
    }

    @Test void eachRecipientIsJudgedOnItsOwnAndThePassScoreCountsOncePerSession() {
        var p = greylist("");
        var first = new FakeSession("192.0.2.10");
        assertGreylisted(rcpt(p, first, SENDER, ALICE));
        assertGreylisted(rcpt(p, first, SENDER, BOB));
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(p, "192.0.2.10", SENDER, BOB)); // bob's triplet has passed; alice's not retried

        var s = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, s, SENDER, BOB));
        assertPasses(rcpt(p, s, SENDER, ALICE)); // alice was greylisted 6 minutes ago: passes now
        assertEquals(List.of(-1.0, 0.0), s.trace().entries().stream().map(DecisionTrace.Entry::score).toList());
    }

    @Test void oneRecipientMayPassWhileAnotherIsGreylistedInTheSameSession() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        var s = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, s, SENDER, ALICE));
        assertGreylisted(rcpt(p, s, SENDER, BOB));
        assertPasses(rcpt(p, s, SENDER, ALICE));
        List<DecisionTrace.Entry> t = s.trace().entries();
        assertEquals(List.of("pass", "tempfail", "pass"), t.stream().map(DecisionTrace.Entry::result).toList());
        assertEquals(-1.0, t.get(0).score());
        assertEquals(0.0, t.get(2).score(), "the pass score counts once per session");
        assertEquals(-1.0, s.trace().score());
    }

    @Test void autoAllowLetsANetworkThatPassedOftenEnoughSkipGreylisting() {
        var p = greylist("auto_allow_after = 2");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, BOB));
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(p, "192.0.2.10", SENDER, ALICE));
        assertGreylisted(attempt(p, "192.0.2.10", "other@example.org", ALICE)); // one pass is not enough
        assertPasses(attempt(p, "192.0.2.11", SENDER, BOB)); // second pass of this /24
        var s = new FakeSession("192.0.2.99");
        assertPasses(rcpt(p, s, "new@example.net", ALICE)); // never seen, but the network is allowed
        assertContains(s.trace().entries().getFirst().reason(), "auto-allowed network 192.0.2.0/24");
        assertGreylisted(attempt(p, "198.51.100.1", "new@example.net", ALICE)); // another network is not
        // the allowance lasts pass_ttl after its last use
        h.clock.advance(Duration.ofDays(35));
        assertPasses(attempt(p, "192.0.2.50", "new2@example.net", ALICE));
        h.clock.advance(Duration.ofDays(35));
        assertPasses(attempt(p, "192.0.2.50", "new3@example.net", ALICE));
    }

    @Test void autoAllowZeroIsOff() {
        var p = greylist("auto_allow_after = 0");
        for (String from : List.of("a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org", "f@example.org"))
            assertGreylisted(attempt(p, "192.0.2.10", from, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        for (String from : List.of("a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org", "f@example.org"))
            assertPasses(attempt(p, "192.0.2.10", from, ALICE));
        assertGreylisted(attempt(p, "192.0.2.10", "g@example.org", ALICE));
    }

    @Test void defaultAutoAllowNeedsFivePasses() {
        var p = greylist("");
        List<String> senders = List.of("a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org");
        for (String from : senders) assertGreylisted(attempt(p, "192.0.2.10", from, ALICE));
        h.clock.advance(Duration.ofMinutes(6));
        for (int i = 0; i < 4; i++) assertPasses(attempt(p, "192.0.2.10", senders.get(i), ALICE));
        assertGreylisted(attempt(p, "192.0.2.10", "x@example.org", ALICE));
        assertPasses(attempt(p, "192.0.2.10", senders.get(4), ALICE));
        assertPasses(attempt(p, "192.0.2.10", "y@example.org", ALICE));
    }

    @Test void exemptClientsAreNotGreylisted() {
        var p = greylist("");
        var auth = new FakeSession("192.0.2.10");
        auth.authenticatedUser = "alice";
        var relay = new FakeSession("192.0.2.11");
        relay.relayClient = true;
        var allow = new FakeSession("192.0.2.12");
        allow.allowlisted = true;
        var dnswl = new FakeSession("192.0.2.13");
        dnswl.notes().put(CheckPolicy.ALLOWLISTED, "list.dnswl.test");
        for (FakeSession s : List.of(auth, relay, allow, dnswl)) {
            assertPasses(rcpt(p, s, SENDER, ALICE));
            assertTrue(s.trace().entries().isEmpty(), "exempt clients leave no trace: " + s.trace());
        }
        assertGreylisted(attempt(p, "192.0.2.14", SENDER, ALICE)); // and the store learnt nothing from them
    }

    @Test void postmasterAndAbuseOfLocalDomainsAreNotGreylisted() {
        var p = greylist("only_known_recipients = false");
        assertPasses(attempt(p, "192.0.2.10", SENDER, "postmaster@example.test"));
        assertPasses(attempt(p, "192.0.2.10", SENDER, "PostMaster@example.test"));
        assertPasses(attempt(p, "192.0.2.10", SENDER, "abuse@example.test"));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, "postmaster@elsewhere.example")); // not ours
    }

    @Test void goodKarmaSkipsGreylistingUnlessTurnedOff() {
        var p = greylist("");
        var good = new FakeSession("192.0.2.10");
        good.notes().put(KarmaPlugin.STANDING, new KarmaPlugin.Standing(-3, KarmaPlugin.Level.GOOD));
        assertPasses(rcpt(p, good, SENDER, ALICE));
        var neutral = new FakeSession("192.0.2.10");
        neutral.notes().put(KarmaPlugin.STANDING, new KarmaPlugin.Standing(0, KarmaPlugin.Level.NEUTRAL));
        assertGreylisted(rcpt(p, neutral, SENDER, ALICE));

        var strict = greylist("skip_good_karma = false");
        var good2 = new FakeSession("198.51.100.7");
        good2.notes().put(KarmaPlugin.STANDING, new KarmaPlugin.Standing(-3, KarmaPlugin.Level.GOOD));
        assertGreylisted(rcpt(strict, good2, SENDER, ALICE));
    }

    @Test void recipientsThatWillBeRefusedAnywayAreNotGreylistedUnlessAsked() {
        var p = greylist("");
        assertPasses(attempt(p, "192.0.2.10", SENDER, "nobody@example.test")); // rcpt answers 550 5.1.1
        assertPasses(attempt(p, "192.0.2.10", SENDER, "someone@elsewhere.example")); // relay denied by the chain
        var all = greylist("only_known_recipients = false");
        assertGreylisted(attempt(all, "192.0.2.10", SENDER, "nobody@example.test"));
        assertGreylisted(attempt(all, "192.0.2.10", SENDER, "someone@elsewhere.example"));
    }

    @Test void flagModeIsADryRunThatStillLearns() {
        var p = greylist("action = \"flag\"\nscore = 2");
        var s = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, s, SENDER, ALICE));
        DecisionTrace.Entry e = s.trace().entries().getFirst();
        assertEquals("flag", e.result());
        assertEquals(2.0, e.score());
        h.clock.advance(Duration.ofMinutes(6));
        var retry = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, retry, SENDER, ALICE));
        assertEquals("pass", retry.trace().entries().getFirst().result());
    }

    @Test void offDoesNothing() {
        var p = greylist("action = \"off\"");
        var s = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, s, SENDER, ALICE));
        assertTrue(s.trace().entries().isEmpty());
        assertTrue(h.store.get(GreylistPlugin.NAMESPACE, "t:" + GreylistPlugin.tripletKey("192.0.2.0/24",
                address(SENDER), address(ALICE))).isEmpty());
    }

    @Test void customDelayAndPassScore() {
        var p = greylist("delay = \"30s\"\npass_score = -2.5");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofSeconds(29));
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.clock.advance(Duration.ofSeconds(1));
        var s = new FakeSession("192.0.2.10");
        assertPasses(rcpt(p, s, SENDER, ALICE));
        assertEquals(-2.5, s.trace().score());
    }

    @Test void entriesSurviveReopeningTheStore() {
        var p = greylist("");
        assertGreylisted(attempt(p, "192.0.2.10", SENDER, ALICE));
        h.close();
        h = PluginHarness.in(dir, h.clock);
        var again = greylist("");
        h.clock.advance(Duration.ofMinutes(6));
        assertPasses(attempt(again, "192.0.2.10", SENDER, ALICE));
    }

    @Test void tripletKeysCannotCollide() {
        // joined with a plain space, these two triplets would both read: "a@b c"@d x@y
        var net = "192.0.2.0/24";
        String a = GreylistPlugin.tripletKey(net, Address.of("\"a@b c\"", "d"), Address.of("x", "y"));
        String b = GreylistPlugin.tripletKey(net, Address.of("\"a", "b"), Address.of("c\"@d x", "y"));
        assertEquals(Address.of("\"a@b c\"", "d").mailbox() + " x@y", Address.of("\"a", "b").mailbox() + " " + Address.of("c\"@d x", "y").mailbox());
        assertFalse(a.equals(b), a + " vs " + b);
    }

    @Test void settingsThatMakeNoSenseStopStartUp() {
        assertSettingError("action = \"reject\"", "action", "tempfail");
        assertSettingError("action = \"disconnect\"", "action", "tempfail");
        assertSettingError("delay = \"48h\"", "delay", "retry_window");
        assertSettingError("ipv4_prefix = 33", "ipv4_prefix", "between 0 and 32");
        assertSettingError("ipv6_prefix = -1", "ipv6_prefix", "between 0 and 128");
        assertSettingError("pass_ttl = \"0s\"", "pass_ttl", "zero");
        assertSettingError("auto_allow_after = -1", "auto_allow_after", "negative");
        assertSettingError("defer_to_rcpt = true", "defer_to_rcpt", "unknown setting");
        assertSettingError("delya = \"1m\"", "delya", "unknown setting");
    }

    private void assertSettingError(String settings, String key, String words) {
        var e = assertThrows(PluginSettings.SettingException.class, () -> greylist(settings), settings);
        assertContains(e.getMessage(), key);
        assertContains(e.getMessage(), words);
        assertContains(e.getMessage(), "test.toml:");
    }
}
