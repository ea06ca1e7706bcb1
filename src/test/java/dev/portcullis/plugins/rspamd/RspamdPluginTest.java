package dev.portcullis.plugins.rspamd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rspamd plugin through real servers against a real rspamd (started here on loopback, see {@link Rspamd}):
 * each of rspamd's actions mapped onto Portcullis's, the envelope rspamd receives, its milter header edits,
 * the fallback when it is down, and our own users' spam held for review.
 */
@Timeout(180)
class RspamdPluginTest {
    static final String GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
    static final Duration DELIVERY = Duration.ofSeconds(15);
    static final String PASSWORD = "correct horse battery staple";
    static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);
    static final String CHAIN = """
            [[plugin]]
            name = "relay"
            [[plugin]]
            name = "rcpt"
            """;

    @TempDir static Path dir;
    static Rspamd rspamd;
    /** Default actions, karma_weight 1; a submission listener where carol logs in, authenticated = "hold". */
    static TestServer server;
    /** rspamd "down" (nothing listens on its port): on_error = "accept" and "tempfail". */
    static TestServer accepting;
    static TestServer deferring;

    @BeforeAll static void start() throws Exception {
        rspamd = Rspamd.start(dir.resolve("rspamd"));
        server = TestServer.in(dir.resolve("server"))
                .listener("127.0.0.1", 0, "mx").listener("127.0.0.1", 0, "submission")
                .toml("""
                        [[plugin]]
                        name = "auth"
                        [[plugin]]
                        name = "rspamd"
                        address = "127.0.0.1:%d"
                        karma_weight = 1
                        authenticated = "hold"
                        """.formatted(rspamd.port) + CHAIN).start();
        try (var accounts = SqliteAccounts.open(server.dataDir(), List.of(TestServer.DOMAIN))) {
            accounts.add("carol", PASSWORD.toCharArray(), List.of("carol@example.test"));
        }
        int dead = dev.portcullis.testkit.ServerProcess.freePort();
        accepting = TestServer.in(dir.resolve("accepting")).toml("""
                [[plugin]]
                name = "rspamd"
                address = "127.0.0.1:%d"
                timeout = "2s"
                """.formatted(dead) + CHAIN).start();
        deferring = TestServer.in(dir.resolve("deferring")).toml("""
                [[plugin]]
                name = "rspamd"
                address = "127.0.0.1:%d"
                on_error = "tempfail"
                """.formatted(dead) + CHAIN).start();
    }

    @AfterAll static void stop() {
        for (TestServer s : new TestServer[] {server, accepting, deferring}) if (s != null) s.close();
        if (rspamd != null) rspamd.close();
    }

    static String message(String subject, String body, String... extraHeaders) {
        StringBuilder sb = new StringBuilder()
                .append("From: Bob Sender <bob@sender.test>\r\n")
                .append("To: Alice <alice@example.test>\r\n")
                .append("Subject: ").append(subject).append("\r\n")
                .append("Date: ").append(ZonedDateTime.now().format(DATE)).append("\r\n")
                .append("Message-ID: <").append(UUID.randomUUID()).append("@sender.test>\r\n");
        for (String h : extraHeaders) sb.append(h).append("\r\n");
        return sb.append("\r\n").append(body).toString();
    }

    /** One transaction from {@code source} to the given recipients; returns the reply to the end of data. */
    static SmtpScript.Reply send(TestServer to, String source, String message, String... rcpts) throws Exception {
        try (SmtpScript s = SmtpScript.openFrom(source, to.port(), "client.sender.test")) {
            s.readTimeout(Duration.ofSeconds(60));
            s.command("MAIL FROM:<bob@sender.test>", 250, null);
            for (String r : rcpts.length == 0 ? new String[] {"alice@example.test"} : rcpts)
                s.command("RCPT TO:<" + r + ">", 250, null);
            SmtpScript.Reply r = s.data(message);
            s.quit();
            return r;
        }
    }

    /** The first field {@code name} of the header of a message from a Maildir (LF line ends), unfolded. */
    static String header(String message, String name) {
        String head = message.substring(0, message.indexOf("\n\n") + 1).replaceAll("\n[ \t]", " ");
        Matcher m = Pattern.compile("(?mi)^" + Pattern.quote(name) + ":[ \t]*(.*?)$").matcher(head);
        assertTrue(m.find(), "no " + name + " in\n" + message);
        return m.group(1).strip();
    }

    /** Whether a message containing {@code marker} is in the server's queue (held or waiting). */
    static boolean queued(TestServer s, String marker) {
        return s.queuedWith(marker);
    }

    @Test void gtubeIsRefusedAtTheEndOfDataAndNeverQueued() throws Exception {
        SmtpScript.Reply r = send(server, "127.0.0.2", message("an offer", "Buy now\r\n" + GTUBE));
        assertTrue(r.is(550, "5.7.1"), r.toString());
        assertFalse(queued(server, GTUBE), server.queuedMessages().toString());
    }

    @Test void noActionIsDeliveredWithNoHeaders() throws Exception {
        assertEquals(250, send(server, "127.0.0.3", message("lunch", "see you at noon\r\nno-action-marker")).code());
        String m = server.awaitMessage("alice", "no-action-marker", DELIVERY);
        assertEquals("No, score=0.0 required=15.0 action=no_action tests=none", header(m, "X-Spam-Status"), m);
        assertEquals("0.0", header(m, "X-Spam-Score"), m);
        assertFalse(m.contains("X-Portcullis-Flag"), m);
    }

    @Test void theEnvelopeReachesRspamd() throws Exception {
        SmtpScript.Reply r = send(server, "127.0.0.5", message("echo", "envelope-marker"),
                "alice@example.test", "bob@example.test");
        assertEquals(250, r.code(), r.toString());
        String m = server.awaitMessage("alice", "envelope-marker", DELIVERY);
        assertEquals("ip=127.0.0.5 helo=client.sender.test from=bob@sender.test rcpt=alice@example.test,bob@example.test"
                + " user=- queue_id=" + r.queueId() + " mta=mx.test", header(m, "X-Rspamd-Envelope"), m);
    }

    @Test void addHeaderIsAFlag() throws Exception {
        assertEquals(250, send(server, "127.0.0.3", message("score 7", "add-header-marker")).code());
        String m = server.awaitMessage("alice", "add-header-marker", DELIVERY);
        assertEquals("Yes, score=7.0 required=15.0 action=add_header tests=PORTCULLIS_TEST_SCORE", header(m, "X-Spam-Status"), m);
        assertTrue(m.contains("X-Portcullis-Flag: rspamd (data_post): action \"add header\" score 7"), m);
        assertTrue(m.contains("X-Portcullis-Score: 7.0"), "karma_weight 1 puts rspamd's score in the trace:\n" + m);
        assertEquals("score 7", header(m, "Subject"), m);
    }

    @Test void rewriteSubjectTakesRspamdsSubject() throws Exception {
        assertEquals(250, send(server, "127.0.0.3", message("score 9", "rewrite-marker")).code());
        String m = server.awaitMessage("alice", "rewrite-marker", DELIVERY);
        assertEquals("*** SPAM *** score 9", header(m, "Subject"), m);
        assertEquals(1, m.substring(0, m.indexOf("\n\n")).split("\nSubject:", -1).length - 1, m);
        assertTrue(header(m, "X-Spam-Status").startsWith("Yes, score=9.0 required=15.0 action=rewrite_subject"), m);
    }

    @Test void softRejectAndGreylistAreTemporary() throws Exception {
        assertTrue(send(server, "127.0.0.3", message("score 13", "soft")).is(451, "4.7.1"));
        assertTrue(send(server, "127.0.0.3", message("score 5", "grey")).is(451, "4.7.1"));
        assertTrue(send(server, "127.0.0.3", message("score 20", "reject")).is(550, "5.7.1"));
    }

    @Test void milterHeaderEditsAreApplied() throws Exception {
        assertEquals(250, send(server, "127.0.0.3", message("milter", "milter-marker",
                "X-Remove-Me: one", "X-Keep-Me: yes", "X-Remove-Me: two")).code());
        String m = server.awaitMessage("alice", "milter-marker", DELIVERY);
        assertFalse(m.contains("X-Remove-Me"), m);
        assertTrue(m.contains("X-Keep-Me: yes\n"), m);
        assertEquals("yes", header(m, "X-Test-Added"), m);
    }

    @Test void clientSentStatusHeadersAreReplaced() throws Exception {
        assertEquals(250, send(server, "127.0.0.3", message("forged", "forged-marker",
                "X-Spam-Status: No, trust me", "X-Spam-Score: -100")).code());
        String m = server.awaitMessage("alice", "forged-marker", DELIVERY);
        assertFalse(m.contains("trust me"), m);
        assertFalse(m.contains("-100"), m);
    }

    @Test void ownUsersSpamIsHeldWithItsEnvelope() throws Exception {
        int submission = server.ports().get(1);
        var swaks = Processes.run(Duration.ofSeconds(60), null, new ArrayList<>(List.of("/usr/bin/swaks",
                "--server", "127.0.0.1", "--port", Integer.toString(submission), "--timeout", "30",
                "--helo", "laptop.home.test", "--tls", "--auth", "PLAIN", "--auth-user", "carol",
                "--auth-password", PASSWORD, "--from", "carol@example.test", "--to", "alice@example.test",
                "--header", "Subject: score 20 echo", "--body", "held-marker")));
        swaks.assertSuccess();
        Matcher queued = Pattern.compile("queued as ([A-Za-z0-9]+)").matcher(swaks.output());
        assertTrue(queued.find(), swaks.output());
        String id = queued.group(1);
        Path messages = server.dataDir().resolve("queue").resolve("messages");
        assertTrue(Files.exists(messages.resolve(id + ".hold")), "not held: " + server.queuedMessages());
        assertEquals("rspamd: reject, score 20", Files.readString(messages.resolve(id + ".hold")));
        String stored = Files.readString(messages.resolve(id), StandardCharsets.UTF_8);
        assertTrue(stored.contains("user=carol queue_id=" + id), stored);
        assertTrue(stored.contains("X-Spam-Status: Yes, score=20.0"), stored);

        // the same from a stranger is refused; ordinary mail flows past the held one
        assertTrue(send(server, "127.0.0.6", message("score 20", "x")).is(550, "5.7.1"));
        assertEquals(250, send(server, "127.0.0.6", message("after hold", "after-hold-marker")).code());
        server.awaitMessage("alice", "after-hold-marker", DELIVERY);
        assertTrue(server.messages("alice").stream().noneMatch(m -> m.contains("held-marker")), "held message was delivered");
    }

    @Test void rspamdDownMeansTheConfiguredFallback() throws Exception {
        assertEquals(250, send(accepting, "127.0.0.7", message("while down", "down-marker")).code());
        String m = accepting.awaitMessage("alice", "down-marker", DELIVERY);
        assertEquals("Unknown (scanner unavailable)", header(m, "X-Spam-Status"), m);

        assertTrue(send(deferring, "127.0.0.7", message("while down", "down-marker-2")).is(451, "4.7.1"));
        assertFalse(queued(deferring, "down-marker-2"), deferring.queuedMessages().toString());
    }
}
