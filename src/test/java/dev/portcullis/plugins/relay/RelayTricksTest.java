package dev.portcullis.plugins.relay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every relay trick from an unauthorised client is refused, while local delivery goes on working. */
@Timeout(60)
class RelayTricksTest {
    @TempDir static Path dir;
    static TestServer server;

    @BeforeAll static void start() throws Exception {
        // 127.0.0.9 may relay; the test client (127.0.0.1) may not
        server = TestServer.in(dir).section("relay", "networks = [\"127.0.0.9/32\"]").start();
    }

    @AfterAll static void stop() { server.close(); }

    @ParameterizedTest
    @ValueSource(strings = {
            "alice%elsewhere.test@example.test",        // percent hack
            "elsewhere.test!alice@example.test",        // bang path
            "\"alice@elsewhere.test\"@example.test",    // quoted local part hiding '@'
            "\"alice%elsewhere.test\"@example.test",    // quoted percent hack
            "@example.test:alice@elsewhere.test",       // source route to a foreign domain
            "@elsewhere.test,@example.test:alice@example.test", // source route, even ending here
            "alice@[127.0.0.1]",                         // IP literal
            "alice@elsewhere.test",                      // plain relaying
    })
    void trickIsRefusedWithRelayDenied(String rcpt) throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO client.remote.test");
            c.command("MAIL FROM:<someone@remote.test>", 250, "2.1.0");
            SmtpScript.Reply r = c.command("RCPT TO:<" + rcpt + ">");
            assertTrue(r.is(550, "5.7.1"), rcpt + " must be refused as relaying, got " + r);
            c.command("QUIT");
        }
    }

    @Test void doubleAtIsASyntaxError() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO client.remote.test");
            c.command("MAIL FROM:<someone@remote.test>", 250, "2.1.0");
            SmtpScript.Reply r = c.command("RCPT TO:<alice@elsewhere.test@example.test>");
            assertEquals(501, r.code(), r.toString());
        }
    }

    @Test void nullSenderIsAcceptedButNeverRelays() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO client.remote.test");
            c.command("MAIL FROM:<>", 250, "2.1.0");
            assertTrue(c.command("RCPT TO:<x@elsewhere.test>").is(550, "5.7.1"));
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
        }
    }

    @Test void swaksFromAStrangerCannotRelayButDeliversLocally() throws Exception {
        var refused = Swaks.run(server.port(), "--from", "a@remote.test", "--to", "alice%elsewhere.test@example.test");
        assertTrue(refused.output().contains("550 5.7.1"), refused.describe("percent hack"));
        var local = Swaks.run(server.port(), "--from", "a@remote.test", "--to", "alice@example.test", "--body", "local still works");
        local.assertSuccess();
        assertTrue(server.awaitMessages("alice", 1, Duration.ofSeconds(10)).stream().anyMatch(m -> m.contains("local still works")));
    }

    @Test void relayNetworkMayRelayButNotWithTricks() throws Exception {
        var relayed = Swaks.run(server.port(), "--local-interface", "127.0.0.9", "--from", "a@example.test", "--to", "x@elsewhere.test");
        relayed.assertSuccess();
        assertTrue(relayed.output().contains("250 2.0.0"), relayed.describe("relay from a relay network"));
        var stranger = Swaks.run(server.port(), "--local-interface", "127.0.0.8", "--from", "a@example.test", "--to", "x@elsewhere.test");
        assertTrue(stranger.output().contains("550 5.7.1"), stranger.describe("relay from a stranger"));
    }
}
