package dev.portcullis.plugins.greylist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.MutableClock;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.SmtpScript.Reply;
import dev.portcullis.testkit.TestServer;
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
    private static final Duration WAIT = Duration.ofSeconds(20);
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
        try (var c = SmtpScript.openFrom(ip, port, "mta.example.org")) {
            c.command("MAIL FROM:<" + from + ">", 250, null);
            Reply r = c.command("RCPT TO:<" + to + ">");
            c.quit();
            return r;
        }
    }

    @Test void firstAttemptIsGreylistedAndTheRetryAfterTheDelayIsDelivered() throws Exception {
        try (TestServer server = TestServer.in(dir).clock(clock).toml(CHAIN).start()) {
            int port = server.port();
            Reply first = tryRcpt(port, "127.0.0.5", "news@example.org", "alice@example.test");
            assertTrue(first.is(451, "4.7.1"), first.toString());
            assertEquals("4.7.1 Greylisted, please try again later", first.text());

            clock.advance(Duration.ofMinutes(2));
            Reply early = tryRcpt(port, "127.0.0.5", "news@example.org", "alice@example.test");
            assertTrue(early.is(451, "4.7.1"), "an early retry is refused too: " + early);

            clock.advance(Duration.ofMinutes(4));
            // the retry comes from another address of the same /24, as a big sender's pool would
            try (var c = SmtpScript.openFrom("127.0.0.6", port, "mta.example.org")) {
                c.command("MAIL FROM:<news@example.org>", 250, null);
                c.command("RCPT TO:<alice@example.test>", 250, null);
                Reply queued = c.data("Subject: greylisted once\r\n\r\nhello");
                assertEquals(250, queued.code(), c.transcript());
                c.quit();
            }
            List<String> mail = server.awaitMessages("alice", 1, WAIT);
            assertTrue(mail.getFirst().contains("Subject: greylisted once"), mail.getFirst());
        }
    }

    @Test void eachRecipientIsJudgedOnItsOwnOverTheWire() throws Exception {
        try (TestServer server = TestServer.in(dir).clock(clock).toml(CHAIN).start()) {
            int port = server.port();
            assertEquals(451, tryRcpt(port, "127.0.0.5", "a@example.org", "alice@example.test").code());
            clock.advance(Duration.ofMinutes(10));
            try (var c = SmtpScript.openFrom("127.0.0.5", port, "mta.example.org")) {
                c.command("MAIL FROM:<a@example.org>", 250, null);
                assertEquals(451, c.command("RCPT TO:<bob@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<alice@example.test>").code(), c.transcript());
                assertEquals(250, c.data("Subject: to alice only\r\n\r\nhello").code(), c.transcript());
                c.quit();
            }
            assertEquals(1, server.awaitMessages("alice", 1, WAIT).size());
            assertEquals(List.of(), server.newFiles("bob"));
        }
    }

    @Test void aGreylistEntrySurvivesAServerRestart() throws Exception {
        try (TestServer server = TestServer.in(dir).clock(clock).toml(CHAIN).start()) {
            Reply first = tryRcpt(server.port(), "127.0.0.9", "bulk@example.org", "bob@example.test");
            assertEquals(451, first.code(), first.toString());
        }
        clock.advance(Duration.ofMinutes(6));
        // a new server process on the same data folder: the first sight was stored on disk, so this retry passes
        try (TestServer server = TestServer.in(dir).clock(clock).toml(CHAIN).start()) {
            Reply retry = tryRcpt(server.port(), "127.0.0.9", "bulk@example.org", "bob@example.test");
            assertTrue(retry.is(250, "2.1.5"), retry.toString());
            // ... while a triplet it has never seen is still greylisted
            Reply other = tryRcpt(server.port(), "127.0.0.9", "bulk@example.org", "alice@example.test");
            assertEquals(451, other.code(), other.toString());
        }
        assertTrue(Files.exists(dir.resolve("data/state.db")));
    }

    @Test void postmasterAndAbuseAreNeverGreylisted() throws Exception {
        try (TestServer server = TestServer.in(dir).clock(clock).toml(CHAIN).start()) {
            int port = server.port();
            try (var c = SmtpScript.openFrom("127.0.0.7", port, "mta.example.org")) {
                c.command("MAIL FROM:<complaint@example.org>", 250, null);
                assertEquals(451, c.command("RCPT TO:<alice@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<postmaster@example.test>").code(), c.transcript());
                assertEquals(250, c.command("RCPT TO:<Postmaster>").code(), c.transcript());
                assertEquals(250, c.data("Subject: about your server\r\n\r\nhello").code(), c.transcript());
                c.quit();
            }
            assertEquals(1, server.awaitMessages("postmaster", 1, WAIT).size());
            assertEquals(List.of(), server.newFiles("alice"));
        }
    }

    @Test void aDryRunFlagsTheMessageInsteadOfRefusing() throws Exception {
        String chain = CHAIN.replace("name = \"greylist\"", "name = \"greylist\"\naction = \"flag\"");
        try (TestServer server = TestServer.in(dir).clock(clock).toml(chain).start()) {
            try (var c = SmtpScript.openFrom("127.0.0.8", server.port(), "mta.example.org")) {
                c.command("MAIL FROM:<first@example.org>", 250, null);
                c.command("RCPT TO:<alice@example.test>", 250, null);
                assertEquals(250, c.data("Subject: would have been greylisted\r\n\r\nhello").code(), c.transcript());
                c.quit();
            }
            String message = server.awaitMessages("alice", 1, WAIT).getFirst();
            assertTrue(message.contains("X-Portcullis-Flag: greylist (rcpt): first sight from 127.0.0.0/24"), message);
        }
    }
}
