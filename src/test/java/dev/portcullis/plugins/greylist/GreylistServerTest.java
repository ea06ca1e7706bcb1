package dev.portcullis.plugins.greylist;

import static dev.portcullis.plugins.karma.PluginTestKit.awaitMessages;
import static dev.portcullis.plugins.karma.PluginTestKit.files;
import static dev.portcullis.plugins.karma.PluginTestKit.startServer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.plugins.karma.PluginTestKit.LoopbackClient;
import dev.portcullis.testkit.MutableClock;
import dev.portcullis.plugins.karma.PluginTestKit.Reply;
import dev.portcullis.server.Server;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Greylisting through a whole server: raw SMTP clients bound to 127.0.0.x, a clock the test moves (never a
 * five-minute sleep), and the SQLite state in the server's data folder.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GreylistServerTest {
    private static final String CHAIN = """
            [[plugin]]
            name = "greylist"

            [[plugin]]
            name = "rcpt"

            [[plugin]]
            name = "relay"
            """;

    @TempDir Path dir;
    private final MutableClock clock = new MutableClock();

    /** One session: EHLO, MAIL, RCPT; returns the RCPT reply and quits. */
    private static Reply tryRcpt(int port, String ip, String from, String to) throws IOException {
        try (var c = LoopbackClient.open(ip, port, "mta.example.org")) {
            c.expect(c.command("MAIL FROM:<" + from + ">"), 250);
            Reply r = c.command("RCPT TO:<" + to + ">");
            c.quit();
            return r;
        }
    }

    @Test void firstAttemptIsGreylistedAndTheRetryAfterTheDelayIsDelivered() throws Exception {
        try (Server server = startServer(dir, CHAIN, clock)) {
            int port = server.ports().getFirst();
            Reply first = tryRcpt(port, "127.0.0.5", "news@example.org", "alice@example.test");
            assertTrue(first.is(451, "4.7.1"), first.toString());
            assertEquals("4.7.1 Greylisted, please try again later", first.text());

            clock.advance(Duration.ofMinutes(2));
            Reply early = tryRcpt(port, "127.0.0.5", "news@example.org", "alice@example.test");
            assertTrue(early.is(451, "4.7.1"), "an early retry is refused too: " + early);

            clock.advance(Duration.ofMinutes(4));
            // the retry comes from another address of the same /24, as a big sender's pool would
            try (var c = LoopbackClient.open("127.0.0.6", port, "mta.example.org")) {
                c.expect(c.command("MAIL FROM:<news@example.org>"), 250);
                c.expect(c.command("RCPT TO:<alice@example.test>"), 250);
                Reply queued = c.data("greylisted once");
                assertEquals(250, queued.code(), c.transcript());
                c.quit();
            }
            List<String> mail = awaitMessages(dir.resolve("data/mail/alice/new"), 1);
            assertTrue(mail.getFirst().contains("Subject: greylisted once"), mail.getFirst());
        }
    }

    @Test void eachRecipientIsJudgedOnItsOwnOverTheWire() throws Exception {
        try (Server server = startServer(dir, CHAIN, clock)) {
            int port = server.ports().getFirst();
            assertEquals(451, tryRcpt(port, "127.0.0.5", "a@example.org", "alice@example.test").code());
            clock.advance(Duration.ofMinutes(10));
            try (var c = LoopbackClient.open("127.0.0.5", port, "mta.example.org")) {
                c.expect(c.command("MAIL FROM:<a@example.org>"), 250);
                assertEquals(451, c.command("RCPT TO:<bob@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<alice@example.test>").code(), c.transcript());
                assertEquals(250, c.data("to alice only").code(), c.transcript());
                c.quit();
            }
            assertEquals(1, awaitMessages(dir.resolve("data/mail/alice/new"), 1).size());
            assertEquals(List.of(), files(dir.resolve("data/mail/bob/new")));
        }
    }

    @Test void aGreylistEntrySurvivesAServerRestart() throws Exception {
        try (Server server = startServer(dir, CHAIN, clock)) {
            Reply first = tryRcpt(server.ports().getFirst(), "127.0.0.9", "bulk@example.org", "bob@example.test");
            assertEquals(451, first.code(), first.toString());
        }
        clock.advance(Duration.ofMinutes(6));
        // a new server process on the same data folder: the first sight was stored on disk, so this retry passes
        try (Server server = startServer(dir, CHAIN, clock)) {
            Reply retry = tryRcpt(server.ports().getFirst(), "127.0.0.9", "bulk@example.org", "bob@example.test");
            assertTrue(retry.is(250, "2.1.5"), retry.toString());
            // ... while a triplet it has never seen is still greylisted
            Reply other = tryRcpt(server.ports().getFirst(), "127.0.0.9", "bulk@example.org", "alice@example.test");
            assertEquals(451, other.code(), other.toString());
        }
        assertTrue(Files.exists(dir.resolve("data/state.db")));
    }

    @Test void postmasterAndAbuseAreNeverGreylisted() throws Exception {
        try (Server server = startServer(dir, CHAIN, clock)) {
            int port = server.ports().getFirst();
            try (var c = LoopbackClient.open("127.0.0.7", port, "mta.example.org")) {
                c.expect(c.command("MAIL FROM:<complaint@example.org>"), 250);
                assertEquals(451, c.command("RCPT TO:<alice@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<postmaster@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<Postmaster>").code(), c.transcript());
                assertEquals(250, c.data("about your server").code(), c.transcript());
                c.quit();
            }
            assertEquals(1, awaitMessages(dir.resolve("data/mail/postmaster/new"), 1).size());
            assertEquals(List.of(), files(dir.resolve("data/mail/alice/new")));
        }
    }

    @Test void aDryRunFlagsTheMessageInsteadOfRefusing() throws Exception {
        String chain = CHAIN.replace("name = \"greylist\"", "name = \"greylist\"\naction = \"flag\"");
        try (Server server = startServer(dir, chain, clock)) {
            try (var c = LoopbackClient.open("127.0.0.8", server.ports().getFirst(), "mta.example.org")) {
                c.expect(c.command("MAIL FROM:<first@example.org>"), 250);
                c.expect(c.command("RCPT TO:<alice@example.test>"), 250);
                c.expect(c.data("would have been greylisted"), 250);
                c.quit();
            }
            String message = awaitMessages(dir.resolve("data/mail/alice/new"), 1).getFirst();
            assertTrue(message.contains("X-Portcullis-Flag: greylist (rcpt): first sight from 127.0.0.0/24"), message);
        }
    }
}
