package dev.portcullis.plugins.karma;

import static dev.portcullis.testkit.TextAssert.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.plugins.karma.KarmaTestScorePlugin.Finished;
import dev.portcullis.testkit.MutableClock;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.SmtpScript.Reply;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Karma through a whole server: raw SMTP clients bound to their own 127.0.0.x address, scores contributed by
 * the test-only {@code karma-test-score} plugin (HELO {@code score+N.example} adds N) and by greylisting in
 * flag mode, history kept in the server's SQLite store. Every test uses its own client addresses, because the
 * recorder of finished sessions is shared.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KarmaServerTest {
    private static final String SCORER = "[[plugin]]\nname = \"karma-test-score\"\nconnect_scores = [\"127.0.1.22=6\"]\n\n";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String LOCAL = "[[plugin]]\nname = \"rcpt\"\n\n[[plugin]]\nname = \"relay\"\n";

    @TempDir Path dir;
    private final MutableClock clock = new MutableClock();

    private TestServer start(String karmaSettings) throws IOException {
        return TestServer.in(dir).clock(clock)
                .toml(SCORER + "[[plugin]]\nname = \"karma\"\n" + karmaSettings + "\n\n" + LOCAL).start();
    }

    /** A session that sends one message to alice; returns the RCPT reply (the message is sent only on 250). */
    private static Reply send(int port, String ip, String helo) throws IOException {
        try (var c = SmtpScript.openFrom(ip, port, helo)) {
            c.command("MAIL FROM:<someone@example.org>", 250, null);
            Reply r = c.command("RCPT TO:<alice@example.test>");
            if (r.code() == 250) assertEquals(250, c.data("Subject: from " + ip + "\r\n\r\nhello").code(), c.transcript());
            c.quit();
            return r;
        }
    }

    @Test void aSessionOverTheThresholdIsRefusedAtRcptWithOneKarmaEntry() throws Exception {
        try (TestServer server = start("")) {
            int port = server.port();
            try (var c = SmtpScript.openFrom("127.0.1.20", port, "score+6.example")) {
                c.command("MAIL FROM:<someone@example.org>", 250, null);
                Reply first = c.command("RCPT TO:<alice@example.test>");
                assertTrue(first.is(550, "5.7.1"), first.toString());
                assertTrue(c.command("RCPT TO:<bob@example.test>").is(550, "5.7.1"), c.transcript());
                // RFC 2505: the postmaster still hears from a refused client
                assertEquals(250, c.command("RCPT TO:<postmaster@example.test>").code(), c.transcript());
                assertTrue(c.command("RCPT TO:<alice@example.test>").is(550, "5.7.1"), c.transcript());
                assertEquals(250, c.data("Subject: false positive?\r\n\r\nhello").code(), c.transcript());
                // a new transaction in the same session: still refused, karma decided once for the session
                c.command("MAIL FROM:<someone@example.org>", 250, null);
                assertTrue(c.command("RCPT TO:<bob@example.test>").is(550, "5.7.1"), c.transcript());
                c.quit();
            }
            Finished session = KarmaTestScorePlugin.last("127.0.1.20");
            assertEquals(1, session.entriesOf("karma"), session.toString());
            assertContains(session.toString(), "karma@rcpt=reject \"score 6 >= threshold 5\"");
            assertTrue(session.standing().orElseThrow().bad());
            assertEquals(1, server.awaitMessages("postmaster", 1, WAIT).size());
            assertEquals(List.of(), server.newFiles("alice"));

            // the same checks' scores below the threshold: accepted, and karma says nothing
            assertEquals(250, send(port, "127.0.1.21", "score+4.example").code());
            assertEquals(0, KarmaTestScorePlugin.last("127.0.1.21").entriesOf("karma"));
            assertEquals(1, server.awaitMessages("alice", 1, WAIT).size());
        }
    }

    @Test void atPhaseConnectTheSessionIsRefusedInsteadOfTheGreeting() throws Exception {
        try (TestServer server = start("phase = \"connect\"")) {
            int port = server.port();
            try (var c = SmtpScript.connectFrom("127.0.1.22", port)) { // +6 at connect
                Reply greeting = c.readReply();
                assertTrue(greeting.is(554, "5.7.1"), greeting.toString());
                c.expectEof(WAIT);
            }
            assertEquals(1, KarmaTestScorePlugin.last("127.0.1.22").entriesOf("karma"));
            try (var c = SmtpScript.connectFrom("127.0.1.23", port)) {
                assertEquals(220, c.readReply().code());
            }
        }
    }

    @Test void atPhaseMailEveryMailIsRefusedKarmaDecidesOnceAndEachRefusalIsInTheTrace() throws Exception {
        try (TestServer server = start("phase = \"mail\"\naction = \"tempfail\"")) {
            try (var c = SmtpScript.openFrom("127.0.1.24", server.port(), "score+5.example")) {
                assertTrue(c.command("MAIL FROM:<a@example.org>").is(451, "4.7.1"), c.transcript());
                assertTrue(c.command("MAIL FROM:<b@example.org>").is(451, "4.7.1"), c.transcript());
                c.quit();
            }
            Finished f = KarmaTestScorePlugin.last("127.0.1.24");
            // the decision once (with its score), then the same answer again, recorded by the chain
            assertEquals(2, f.entriesOf("karma"), f.toString());
            assertContains(f.toString(), "karma@mail=tempfail \"score 5 >= threshold 5\", karma@mail=denysoft");
        }
    }

    @Test void badHistoryAccumulatesAcrossSessionsAndTipsTheBalance() throws Exception {
        try (TestServer server = start("")) {
            int port = server.port();
            for (int i = 0; i < 3; i++) assertEquals(550, send(port, "127.0.1.30", "score+6.example").code());
            List<Finished> sessions = KarmaTestScorePlugin.finished("127.0.1.30");
            assertEquals(3, sessions.size());
            assertContains(sessions.get(1).toString(), "karma@connect=history(+1.0) \"good=0 bad=1\"");
            assertContains(sessions.get(2).toString(), "karma@connect=history(+2.0) \"good=0 bad=2\"");

            // +2 alone is harmless (a fresh client), but with three bad sessions behind it the sum is 5
            assertEquals(250, send(port, "127.0.1.31", "score+2.example").code());
            Reply r = send(port, "127.0.1.30", "score+2.example");
            assertTrue(r.is(550, "5.7.1"), r.toString());
            Finished fourth = KarmaTestScorePlugin.last("127.0.1.30");
            assertContains(fourth.toString(), "karma@connect=history(+3.0) \"good=0 bad=3\"");
            assertContains(fourth.toString(), "score 5 >= threshold 5");
        }
        // the history is on disk: a restarted server still knows the client
        try (TestServer server = start("")) {
            try (var c = SmtpScript.openFrom("127.0.1.30", server.port(), "plain.example")) {
                c.quit();
            }
            assertContains(KarmaTestScorePlugin.last("127.0.1.30").toString(), "karma@connect=history(+4.0) \"good=0 bad=4\"");
            assertTrue(KarmaTestScorePlugin.last("127.0.1.30").standing().orElseThrow().bad());
        }
    }

    @Test void goodHistoryLowersTheSumAndMakesTheStandingGood() throws Exception {
        try (TestServer server = start("")) {
            int port = server.port();
            for (int i = 0; i < 3; i++) assertEquals(250, send(port, "127.0.1.32", "mta.example.org").code());
            assertEquals(3, server.awaitMessages("alice", 3, WAIT).size());
            // an idle session is neutral: connects, says nothing, leaves
            try (var c = SmtpScript.openFrom("127.0.1.32", port, "mta.example.org")) {
                c.quit();
            }
            Finished idle = KarmaTestScorePlugin.last("127.0.1.32");
            assertContains(idle.toString(), "karma@connect=history(-3.0) \"good=3 bad=0\"");
            assertTrue(idle.standing().orElseThrow().good(), idle.standing().toString());

            // +7 would be refused from a stranger, but three good sessions take 3 off
            assertTrue(send(port, "127.0.1.33", "score+7.example").is(550, "5.7.1"));
            assertEquals(250, send(port, "127.0.1.32", "score+7.example").code());
            assertContains(KarmaTestScorePlugin.last("127.0.1.32").toString(), "karma@connect=history(-3.0) \"good=3 bad=0\"");
        }
    }

    @Test void scoresOfSeveralChecksAddUp() throws Exception {
        // greylisting as a dry run that scores 3 per greylisted recipient, then karma at RCPT with threshold 5
        String chain = SCORER + "[[plugin]]\nname = \"greylist\"\naction = \"flag\"\nscore = 3\n\n"
                + "[[plugin]]\nname = \"karma\"\n\n" + LOCAL;
        try (TestServer server = TestServer.in(dir).clock(clock).toml(chain).start()) {
            int port = server.port();
            Reply combined = send(port, "127.0.2.40", "score+3.example"); // 3 + 3 = 6
            assertTrue(combined.is(550, "5.7.1"), combined.toString());
            Finished f = KarmaTestScorePlugin.last("127.0.2.40");
            assertContains(f.toString(), "karma-test-score@helo=flag(+3.0)");
            assertContains(f.toString(), "greylist@rcpt=flag(+3.0)");
            assertContains(f.toString(), "karma@rcpt=reject \"score 6 >= threshold 5\"");

            // greylisting's 3 alone is accepted, and the message says why it was flagged
            assertEquals(250, send(port, "127.0.3.41", "mta.example.org").code());
            String message = server.awaitMessages("alice", 1, WAIT).getFirst();
            assertContains(message, "X-Portcullis-Flag: greylist (rcpt): first sight from 127.0.3.0/24");
            assertContains(message, "X-Portcullis-Score: 3.0");

            // a triplet that passed greylisting lowers the sum: history +1 (the refusal above), HELO +4, pass -1 = 4
            clock.advance(Duration.ofMinutes(6));
            assertEquals(250, send(port, "127.0.2.40", "score+4.example").code());
            Finished retry = KarmaTestScorePlugin.last("127.0.2.40");
            assertContains(retry.toString(), "karma@connect=history(+1.0)");
            assertContains(retry.toString(), "greylist@rcpt=pass(-1.0)");
            assertEquals(1, retry.entriesOf("karma"), retry.toString()); // the history entry only
        }
    }

    @Test void goodKarmaSkipsGreylisting() throws Exception {
        String chain = SCORER + "[[plugin]]\nname = \"karma\"\n\n[[plugin]]\nname = \"greylist\"\n\n" + LOCAL;
        try (TestServer server = TestServer.in(dir).clock(clock).toml(chain).start()) {
            int port = server.port();
            assertEquals(451, send(port, "127.0.1.50", "mta.example.org").code()); // greylisted: neutral, not bad
            clock.advance(Duration.ofMinutes(6));
            for (int i = 0; i < 3; i++) assertEquals(250, send(port, "127.0.1.50", "mta.example.org").code());
            assertEquals(3, server.awaitMessages("alice", 3, WAIT).size());
            assertContains(KarmaTestScorePlugin.last("127.0.1.50").toString(), "karma@connect=history(-2.0) \"good=2 bad=0\"");

            // good=3 now: a triplet never seen before is not greylisted for this client ...
            try (var c = SmtpScript.openFrom("127.0.1.50", port, "mta.example.org")) {
                c.command("MAIL FROM:<new-list@example.org>", 250, null);
                assertEquals(250, c.command("RCPT TO:<bob@example.test>").code(), c.transcript());
                c.quit();
            }
            Finished f = KarmaTestScorePlugin.last("127.0.1.50");
            assertTrue(f.standing().orElseThrow().good(), f.toString());
            assertEquals(0, f.entriesOf("greylist"), f.toString());
            // ... but it still is for a neighbour without that history
            try (var c = SmtpScript.openFrom("127.0.1.51", port, "mta.example.org")) {
                c.command("MAIL FROM:<new-list@example.org>", 250, null);
                assertEquals(451, c.command("RCPT TO:<bob@example.test>").code(), c.transcript());
                c.quit();
            }
        }
    }
}
