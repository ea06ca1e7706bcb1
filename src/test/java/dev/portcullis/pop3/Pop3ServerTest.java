package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Maildirs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * POP3 over real sockets in a running server: the listeners, STLS and implicit TLS, the plaintext policy, what a
 * dropped connection and RSET leave behind, mailbox locking across listeners, snapshots and stable UIDLs.
 */
@Timeout(120)
class Pop3ServerTest {
    @TempDir Path dir;
    Pop3Fixture f;

    @BeforeEach void start() throws Exception { f = Pop3Fixture.start(dir.resolve("default"), null); }

    @AfterEach void stop() { if (f != null) f.close(); }

    @Test void stlsDiscardsCommandsSentAheadOfTheHandshake() throws Exception {
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.send("STLS\r\nUSER alice\r\n");
            assertEquals("+OK begin TLS negotiation", c.line());
            c.startTls(f.pinned()); // fails if any plaintext reply followed the +OK
            assertEquals("-ERR send USER first", c.command("PASS pw"), "the injected USER was never acted on");
            assertEquals("", c.readAvailableFor(Duration.ofMillis(300)), "and never answered");
            c.login("alice", "pw");
            assertTrue(c.command("QUIT").startsWith("+OK"));
        }
    }

    @Test void implicitTlsAndStlsBothLogIn() throws Exception {
        f.deliver("alice", "over tls", "hello");
        try (Pop3Client c = Pop3Client.openTls(f.pop3s, f.pinned())) {
            List<String> caps = c.multiline("CAPA");
            assertFalse(caps.contains("STLS"), "pop3s is TLS already: " + caps);
            assertTrue(caps.contains("USER"), caps.toString());
            c.login("alice", "pw");
            assertTrue(c.multiline("RETR 1").contains("Subject: over tls"));
            c.command("QUIT");
        }
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            assertTrue(c.multiline("CAPA").contains("STLS"));
            c.command("STLS");
            c.startTls(f.pinned());
            c.login("alice", "pw");
            assertTrue(c.command("STAT").startsWith("+OK 1 "));
            c.command("QUIT");
        }
    }

    @Test void plaintextLoginIsAllowedOnLoopbackByDefault() throws Exception {
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            assertTrue(c.multiline("CAPA").contains("USER"));
            c.login("alice", "pw");
            assertTrue(c.command("QUIT").startsWith("+OK"));
        }
    }

    @Test void plaintextNeverRefusesLoginBeforeStls() throws Exception {
        f.close();
        f = Pop3Fixture.start(dir.resolve("never"), "plaintext = \"never\"\n");
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            List<String> caps = c.multiline("CAPA");
            assertFalse(caps.contains("USER") || caps.contains("SASL PLAIN"), caps.toString());
            assertTrue(c.command("USER alice").startsWith("-ERR [AUTH] "));
            assertTrue(c.command("AUTH PLAIN AGFsaWNlAHB3").startsWith("-ERR [AUTH] "));
            c.command("STLS");
            c.startTls(f.pinned());
            c.login("alice", "pw");
            c.command("QUIT");
        }
    }

    @Test void droppedConnectionDeletesNothing() throws Exception {
        f.deliver("alice", "keep me", "1");
        f.deliver("alice", "keep me too", "2");
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.login("alice", "pw");
            assertTrue(c.command("DELE 1").startsWith("+OK"));
            c.multiline("RETR 2");
            c.kill();
        }
        awaitUnlocked();
        assertEquals(2, Maildirs.newFiles(f.maildir("alice")).size(), "both still in new/, neither deleted nor flagged");
    }

    @Test void rsetKeepsTheMail() throws Exception {
        f.deliver("alice", "reset", "1");
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.login("alice", "pw");
            c.command("DELE 1");
            assertTrue(c.command("RSET").startsWith("+OK maildrop has 1 messages"));
            assertTrue(c.command("QUIT").startsWith("+OK"));
        }
        assertEquals(1, Maildirs.newFiles(f.maildir("alice")).size());
    }

    @Test void aSecondConcurrentLoginIsRefusedInUse() throws Exception {
        try (Pop3Client first = Pop3Client.open(f.pop3); Pop3Client second = Pop3Client.openTls(f.pop3s, f.pinned())) {
            first.login("alice", "pw");
            second.command("USER alice");
            assertTrue(second.command("PASS pw").startsWith("-ERR [IN-USE] "), "locked across listeners");
            assertTrue(first.command("QUIT").startsWith("+OK"));
            second.login("alice", "pw");
            second.command("QUIT");
        }
    }

    @Test void uidlsAreStableAcrossSessionsAndLateMailWaitsForTheNextOne() throws Exception {
        f.deliver("alice", "one", "1");
        f.deliver("alice", "two", "2");
        List<String> uidls;
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.login("alice", "pw");
            uidls = c.multiline("UIDL");
            assertEquals(2, uidls.size(), uidls.toString());
            c.multiline("RETR 1"); // moves it to cur/ with a new file name at QUIT
            f.deliver("alice", "three", "3");
            assertTrue(c.command("STAT").startsWith("+OK 2 "), "the snapshot was taken at login");
            assertEquals(uidls, c.multiline("UIDL"));
            c.command("QUIT");
        }
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.login("alice", "pw");
            List<String> again = c.multiline("UIDL");
            assertEquals(3, again.size(), again.toString());
            assertEquals(uidls, again.subList(0, 2), "the same ids for the same messages");
            assertTrue(c.multiline("RETR 3").contains("Subject: three"));
            c.command("QUIT");
        }
    }

    @Test void lockedOutClientIsDisconnected() throws Exception {
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            for (int i = 0; i < 5; i++) { // [login] max_failures defaults to 5
                c.command("USER alice");
                assertEquals("-ERR [AUTH] authentication failed", c.command("PASS guess" + i));
            }
            c.command("USER alice");
            assertTrue(c.command("PASS pw").startsWith("-ERR [AUTH] too many failed logins"));
            assertTrue(c.closedWithin(Duration.ofSeconds(5)));
        }
    }

    @Test void inactiveClientsAreLoggedOut() throws Exception {
        f.close();
        f = Pop3Fixture.start(dir.resolve("timeout"), "timeout = \"1s\"\n");
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            assertEquals("-ERR disconnected for inactivity", c.readAvailableFor(Duration.ofSeconds(5)).strip());
            assertTrue(c.closedWithin(Duration.ofSeconds(5)));
        }
    }

    @Test void garbageInsteadOfAClientHelloEndsTheConnection() throws Exception {
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.command("STLS");
            c.send("USER alice\r\nPASS pw\r\n");
            assertTrue(c.closedWithin(Duration.ofSeconds(10)));
        }
        try (Pop3Client c = Pop3Client.open(f.pop3)) { // the server is fine
            c.login("alice", "pw");
            c.command("QUIT");
        }
    }

    /** The session of a killed client ends (and unlocks) once the server notices; wait for that. */
    void awaitUnlocked() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try (Pop3Client c = Pop3Client.open(f.pop3)) {
                c.command("USER alice");
                String r = c.command("PASS pw");
                if (r.startsWith("+OK")) {
                    c.command("QUIT");
                    return;
                }
                if (System.nanoTime() > deadline) throw new AssertionError("still locked: " + r);
            }
            Thread.sleep(50);
        }
    }
}
