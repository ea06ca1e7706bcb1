package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.testkit.MutableClock;
import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import dev.portcullis.testkit.TestTls;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our own users sending from anywhere: submission on 587 (STARTTLS, then AUTH) and 465 (implicit TLS),
 * with real clients (swaks, Jakarta Mail), the brute-force lockout and the compromised-account detector.
 */
@Timeout(120)
class SubmissionTest {
    static final String PASSWORD = "correct horse battery staple";
    @TempDir Path dir;
    TestServer server;
    MutableClock clock = new MutableClock(Instant.now());
    int mx, submission, submissions;

    @BeforeEach void start() throws Exception {
        server = TestServer.in(dir).clock(clock)
                .listener("127.0.0.1", 0, "mx").listener("127.0.0.1", 0, "submission").listener("127.0.0.1", 0, "submissions")
                .section("login", "failure_delay = \"0s\"\nlockout = \"15m\"\n")
                .toml("""
                        [[plugin]]
                        name = "auth"
                        [[plugin]]
                        name = "outbound"
                        messages_per_hour = 3
                        messages_per_hour_hard = 5
                        [[plugin]]
                        name = "relay"
                        [[plugin]]
                        name = "rcpt"
                        """).start();
        mx = server.ports().get(0);
        submission = server.ports().get(1);
        submissions = server.ports().get(2);
        try (var accounts = SqliteAccounts.open(server.dataDir(), List.of(TestServer.DOMAIN))) {
            accounts.add("carol", PASSWORD.toCharArray(), List.of("carol@example.test", "c.smith@example.test"));
        }
    }

    @AfterEach void stop() { server.close(); }

    Processes.Result swaks(int port, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/swaks", "--server", "127.0.0.1", "--port", Integer.toString(port),
                "--timeout", "15", "--helo", "laptop.home.test"));
        cmd.addAll(List.of(args));
        return Processes.run(Duration.ofSeconds(30), null, cmd);
    }

    @Test void swaksSubmitsOver587WithStarttlsAndEachMechanism() throws Exception {
        for (String mech : List.of("PLAIN", "LOGIN")) {
            var r = swaks(submission, "--tls", "--auth", mech, "--auth-user", "carol", "--auth-password", PASSWORD,
                    "--from", "carol@example.test", "--to", "alice@example.test", "--body", "via 587 " + mech);
            r.assertSuccess();
            assertTrue(r.output().contains("235 2.7.0"), r.describe(mech));
        }
        String msg = server.awaitMessages("alice", 2, Duration.ofSeconds(10)).getFirst();
        assertTrue(msg.contains("with ESMTPSA"), "RFC 3848 protocol name:\n" + msg);
        assertTrue(msg.contains("(authenticated as carol)"), msg);
    }

    @Test void swaksSubmitsOver465WithImplicitTls() throws Exception {
        var r = swaks(submissions, "--tls-on-connect", "--auth", "PLAIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                "--from", "carol@example.test", "--to", "alice@example.test", "--body", "via 465");
        r.assertSuccess();
        assertTrue(server.awaitMessages("alice", 1, Duration.ofSeconds(10)).getFirst().contains("via 465"));
    }

    @Test void noAuthBeforeTlsAndSubmissionNeedsAuth() throws Exception {
        try (SmtpScript c = SmtpScript.open(submission)) {
            SmtpScript.Reply ehlo = c.command("EHLO laptop.home.test");
            assertFalse(String.join("\n", ehlo.lines()).contains("AUTH"), "AUTH is not offered in clear: " + ehlo);
            String plain = Base64.getEncoder().encodeToString(("\0carol\0" + PASSWORD).getBytes(StandardCharsets.UTF_8));
            assertTrue(c.command("AUTH PLAIN " + plain).is(538, "5.7.11"));
            assertTrue(c.command("MAIL FROM:<carol@example.test>").is(530, "5.7.0"), "587 needs a login before MAIL");
        }
        var clear = swaks(submission, "--auth", "PLAIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                "--from", "carol@example.test", "--to", "alice@example.test");
        assertFalse(clear.exitCode() == 0, clear.describe("AUTH without TLS must fail"));
    }

    @Test void saslEdgeCases() throws Exception {
        try (SmtpScript c = SmtpScript.open(submission)) {
            c.command("EHLO laptop.home.test");
            c.command("STARTTLS", 220, "2.0.0");
            c.startTls(TestTls.trustAll());
            SmtpScript.Reply ehlo = c.command("EHLO laptop.home.test");
            assertTrue(String.join("\n", ehlo.lines()).contains("AUTH PLAIN LOGIN"), ehlo.toString());
            assertTrue(c.command("AUTH PLAIN !!!notbase64").is(501, "5.5.2"));
            assertEquals(334, c.command("AUTH LOGIN").code());
            assertTrue(c.command("*").is(501, "5.7.0"), "cancel");
            assertTrue(c.command("AUTH CRAM-MD5").is(504, "5.5.4"));
            String plain = Base64.getEncoder().encodeToString(("\0carol\0" + PASSWORD).getBytes(StandardCharsets.UTF_8));
            assertTrue(c.command("AUTH PLAIN " + plain).is(235, "2.7.0"));
            assertTrue(c.command("AUTH PLAIN " + plain).is(503, "5.5.1"), "a second AUTH");
        }
    }

    @Test void relayOnlyAfterAuthAndOnlyFromOwnedAddresses() throws Exception {
        var stranger = swaks(mx, "--from", "x@remote.test", "--to", "someone@elsewhere.test");
        assertTrue(stranger.output().contains("550 5.7.1"), stranger.describe("no relay without AUTH"));
        var relayed = swaks(submission, "--tls", "--auth", "LOGIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                "--from", "c.smith@example.test", "--to", "someone@elsewhere.test", "--body", "outbound");
        relayed.assertSuccess();
        assertEquals(1, server.queuedMessages().size(), "queued for outbound delivery");
        var notOwned = swaks(submission, "--tls", "--auth", "LOGIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                "--from", "alice@example.test", "--to", "someone@elsewhere.test");
        assertTrue(notOwned.output().contains("553 5.7.1"), notOwned.describe("sender not owned"));
    }

    @Test void jakartaMailSubmitsOn587And465WithPinnedCertificate() throws Exception {
        var cert = TestTls.readPem(server.certificatePem());
        for (boolean implicit : List.of(false, true)) {
            Properties p = new Properties();
            String proto = implicit ? "smtps" : "smtp";
            p.put("mail." + proto + ".host", "127.0.0.1");
            p.put("mail." + proto + ".port", Integer.toString(implicit ? submissions : submission));
            p.put("mail." + proto + ".auth", "true");
            p.put("mail." + proto + ".ssl.checkserveridentity", "false");
            p.put("mail." + proto + ".ssl.socketFactory", TestTls.pinned(cert));
            if (!implicit) {
                p.put("mail.smtp.starttls.enable", "true");
                p.put("mail.smtp.starttls.required", "true");
            }
            Session session = Session.getInstance(p);
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress("carol@example.test"));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress("bob@example.test"));
            m.setSubject("jakarta " + proto);
            m.setText("hello from jakarta mail over " + proto);
            try (Transport t = session.getTransport(proto)) {
                t.connect("carol", PASSWORD);
                t.sendMessage(m, m.getAllRecipients());
            }
        }
        List<String> got = server.awaitMessages("bob", 2, Duration.ofSeconds(10));
        assertTrue(got.stream().anyMatch(s -> s.contains("over smtps")) && got.stream().anyMatch(s -> s.contains("over smtp\n")
                || s.contains("over smtp\r\n")), String.join("\n---\n", got));
        Properties bad = new Properties();
        bad.put("mail.smtps.host", "127.0.0.1");
        bad.put("mail.smtps.port", Integer.toString(submissions));
        bad.put("mail.smtps.auth", "true");
        Session s = Session.getInstance(bad);
        try (Transport t = s.getTransport("smtps")) {
            assertThrows(MessagingException.class, () -> t.connect("carol", "wrong password"));
        }
    }

    private SmtpScript.Reply login(String source, String user, String password) throws Exception {
        try (SmtpScript c = SmtpScript.openFrom(source, submission)) {
            c.command("EHLO laptop.home.test");
            c.command("STARTTLS", 220, "2.0.0");
            c.startTls(TestTls.trustAll());
            c.command("EHLO laptop.home.test");
            String plain = Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
            return c.command("AUTH PLAIN " + plain);
        }
    }

    @Test void clientLockedOutAfterFiveFailuresUntilThePeriodEnds() throws Exception {
        assertTrue(login("127.0.0.1", "nosuchuser", "x").is(535, "5.7.8"), "unknown user");
        assertTrue(login("127.0.0.1", "carol", "wrong").is(535, "5.7.8"), "wrong password: the same reply");
        for (int i = 0; i < 3; i++) login("127.0.0.1", "carol", "wrong" + i);
        SmtpScript.Reply locked = login("127.0.0.1", "carol", PASSWORD);
        assertTrue(locked.is(421, "4.7.0"), "this client is locked out, right password or not: " + locked);
        assertTrue(login("127.0.0.2", "carol", PASSWORD).is(235, "2.7.0"), "another client is not");
        clock.advance(Duration.ofMinutes(16));
        assertTrue(login("127.0.0.1", "carol", PASSWORD).is(235, "2.7.0"), "the lockout ends after its period");
    }

    @Test void accountLockedOutAfterFiveFailuresFromAnywhere() throws Exception {
        for (int i = 0; i < 5; i++) assertTrue(login("127.0.0." + (10 + i), "carol", "guess" + i).is(535, "5.7.8"));
        assertTrue(login("127.0.0.30", "carol", PASSWORD).is(535, "5.7.8"), "a distributed guesser locks the account");
        try (var state = new dev.portcullis.store.SqliteStateStore(server.dataDir().resolve("state.db"), clock)) {
            // another process sees the server's changes once their batch is committed, within 50 ms
            long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while (state.get("auth-lockout", "carol").isEmpty() && System.nanoTime() < deadline) Thread.sleep(5);
            assertTrue(state.get("auth-lockout", "carol").isPresent(), "the lockout is recorded (portcullis user list shows it)");
        }
        clock.advance(Duration.ofMinutes(16));
        assertTrue(login("127.0.0.31", "carol", PASSWORD).is(235, "2.7.0"), "and released after its period");
    }

    /**
     * {@code portcullis user release} in another connection to the state file while the server runs: its
     * change gets in although the server batches its own, and the very next login sees it.
     */
    @Test void aLockoutReleasedWhileTheServerRunsEndsAtOnce() throws Exception {
        for (int i = 0; i < 5; i++) assertTrue(login("127.0.0." + (10 + i), "carol", "guess" + i).is(535, "5.7.8"));
        assertTrue(login("127.0.0.30", "carol", PASSWORD).is(535, "5.7.8"), "locked out");
        assertEquals(0, dev.portcullis.Main.run("user", "release", "--config", server.configFile().toString(), "carol"));
        assertTrue(login("127.0.0.31", "carol", PASSWORD).is(235, "2.7.0"), "released at once");
    }

    @Test void burstPastTheHardLimitHoldsTheAccountAndTellsThePostmaster() throws Exception {
        List<String> replies = new ArrayList<>();
        for (int i = 1; i <= 7; i++) {
            var r = swaks(submission, "--tls", "--auth", "PLAIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                    "--from", "carol@example.test", "--to", "friend" + i + "@elsewhere.test", "--body", "burst " + i);
            replies.add(r.output());
        }
        String all = String.join("\n", replies);
        assertTrue(all.contains("451 4.7.1"), "soft limit tempfails:\n" + all);
        assertTrue(all.contains("554 5.7.1"), "hard limit holds:\n" + all);
        try (var accounts = SqliteAccounts.open(server.dataDir(), List.of(TestServer.DOMAIN))) {
            assertTrue(accounts.find("carol").orElseThrow().held(), "the account is held");
        }
        FileSpool spool = new FileSpool(server.dataDir().resolve("queue"));
        long held = spool.list().stream().filter(id -> {
            try { return spool.heldReason(id) != null; } catch (Exception e) { return false; }
        }).count();
        assertEquals(spool.list().size(), held, "every queued message of the account is on hold");
        assertTrue(held >= 3, "the accepted messages are still queued, held: " + held);
        String notice = server.awaitMessages("postmaster", 1, Duration.ofSeconds(10)).getFirst();
        assertTrue(notice.contains("Account carol held") && notice.contains("messages_per_hour"), notice);
        var refused = swaks(submission, "--tls", "--auth", "PLAIN", "--auth-user", "carol", "--auth-password", PASSWORD,
                "--from", "carol@example.test", "--to", "alice@example.test");
        assertTrue(refused.output().contains("554 5.7.1"), refused.describe("a held account cannot submit"));
    }
}
