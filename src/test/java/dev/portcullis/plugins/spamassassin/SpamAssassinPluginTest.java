package dev.portcullis.plugins.spamassassin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
 * The spamassassin plugin through real servers against a real spamd (started here on loopback, over TCP and
 * over its Unix socket): GTUBE refused at the end of DATA and never queued, ordinary mail delivered with
 * "No" headers, flagged mail with "Yes" headers and the subject tag, our own users' spam held or only marked.
 */
@Timeout(120)
class SpamAssassinPluginTest {
    static final String GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
    static final Duration DELIVERY = Duration.ofSeconds(15);
    static final String PASSWORD = "correct horse battery staple";
    static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);

    @TempDir static Path dir;
    static Spamd spamd;
    /** Defaults (reject at 10, flag at 5) over TCP, karma_weight 1. */
    static TestServer plain;
    /** Over the Unix socket, flag_score -100 (every message is flagged), subject tag "[SPAM]". */
    static TestServer flagging;
    /** max_size 300: nothing real is scanned. */
    static TestServer small;
    /** Our own users' spam: authenticated = "hold" (AUTH on a submission listener), relay clients alike. */
    static TestServer holding;
    /** authenticated = "scan_only", our own users being the relay network 127.0.0.9. */
    static TestServer scanOnly;

    static final String CHAIN = """
            [[plugin]]
            name = "relay"
            [[plugin]]
            name = "rcpt"
            """;

    @BeforeAll static void start() throws Exception {
        spamd = Spamd.start(dir.resolve("spamd"));
        plain = TestServer.in(dir.resolve("plain")).toml("""
                [[plugin]]
                name = "spamassassin"
                address = "127.0.0.1:%d"
                karma_weight = 1
                """.formatted(spamd.port) + CHAIN).start();
        flagging = TestServer.in(dir.resolve("flagging")).toml("""
                [[plugin]]
                name = "spamassassin"
                socket = "%s"
                flag_score = -100
                subject_tag = "[SPAM]"
                """.formatted(spamd.socket) + CHAIN).start();
        small = TestServer.in(dir.resolve("small")).toml("""
                [[plugin]]
                name = "spamassassin"
                address = "127.0.0.1:%d"
                max_size = 300
                """.formatted(spamd.port) + CHAIN).start();
        holding = TestServer.in(dir.resolve("holding"))
                .listener("127.0.0.1", 0, "mx").listener("127.0.0.1", 0, "submission")
                .toml("""
                        [[plugin]]
                        name = "auth"
                        [[plugin]]
                        name = "spamassassin"
                        address = "127.0.0.1:%d"
                        authenticated = "hold"
                        """.formatted(spamd.port) + CHAIN).start();
        try (var accounts = SqliteAccounts.open(holding.dataDir(), List.of(TestServer.DOMAIN))) {
            accounts.add("carol", PASSWORD.toCharArray(), List.of("carol@example.test"));
        }
        scanOnly = TestServer.in(dir.resolve("scan-only")).section("relay", "networks = [\"127.0.0.9/32\"]").toml("""
                [[plugin]]
                name = "spamassassin"
                address = "127.0.0.1:%d"
                authenticated = "scan_only"
                """.formatted(spamd.port) + CHAIN).start();
    }

    @AfterAll static void stop() throws Exception {
        for (TestServer s : new TestServer[] {plain, flagging, small, holding, scanOnly}) if (s != null) s.close();
        if (spamd != null) spamd.close();
    }

    /** A plain, well-formed message (no trailing CRLF: SmtpScript adds the end of data). */
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

    static String ham(String marker) {
        return "Hello Alice,\r\n\r\nshall we meet for lunch on Thursday at noon, at the usual place?\r\n"
                + "I will bring the notes from the last meeting.\r\n\r\nBob\r\n" + marker;
    }

    /** One transaction from {@code source}; returns the reply to the end of data. */
    static SmtpScript.Reply send(TestServer server, String source, String message) throws Exception {
        try (SmtpScript s = SmtpScript.openFrom(source, server.port(), "client.sender.test")) {
            s.readTimeout(Duration.ofSeconds(60));
            s.command("MAIL FROM:<bob@sender.test>", 250, null);
            s.command("RCPT TO:<alice@example.test>", 250, null);
            SmtpScript.Reply r = s.data(message);
            s.quit();
            return r;
        }
    }

    /** Whether a message containing {@code marker} is in the server's queue (held or waiting). */
    static boolean queued(TestServer s, String marker) {
        return s.queuedWith(marker);
    }

    @Test void gtubeIsRefusedAtTheEndOfDataAndNeverQueued() throws Exception {
        SmtpScript.Reply r = send(plain, "127.0.0.2", message("an offer", "Buy now\r\n" + GTUBE));
        assertTrue(r.is(550, "5.7.1"), r.toString());
        assertFalse(queued(plain, GTUBE), plain.queuedMessages().toString());
        // the next message is delivered; the refused one never was
        assertEquals(250, send(plain, "127.0.0.2", message("after gtube", ham("after-gtube-marker"))).code());
        plain.awaitMessage("alice", "after-gtube-marker", DELIVERY);
        assertTrue(plain.messages("alice").stream().noneMatch(m -> m.contains(GTUBE)), "GTUBE message was delivered");
    }

    @Test void ordinaryMailIsDeliveredWithNoHeaders() throws Exception {
        SmtpScript.Reply r = send(plain, "127.0.0.3", message("lunch on Thursday", ham("ham-marker-1")));
        assertEquals(250, r.code(), r.toString());
        String m = plain.awaitMessage("alice", "ham-marker-1", DELIVERY);
        // (Maildir files have LF line ends)
        Matcher status = Pattern.compile("(?m)^X-Spam-Status: No, score=(-?[\\d.]+) required=5\\.0 tests=\\S+$").matcher(m);
        assertTrue(status.find(), m);
        assertTrue(m.contains("X-Spam-Score: " + status.group(1) + "\n"), m);
        assertFalse(m.contains("X-Portcullis-Flag"), m);
        assertTrue(m.contains("Subject: lunch on Thursday\n"), m);
    }

    @Test void flaggedMailGetsYesHeadersTheSubjectTagAndAFlag() throws Exception {
        String longSubject = "minutes of the meeting about the budget for next year and the new office furniture plan";
        SmtpScript.Reply r = send(flagging, "127.0.0.4", message(longSubject, ham("flag-marker-1"),
                "X-Spam-Status: No, forged by the client", "X-Spam-Score: -50"));
        assertEquals(250, r.code(), r.toString());
        String m = flagging.awaitMessage("alice", "flag-marker-1", DELIVERY);
        assertTrue(Pattern.compile("(?m)^X-Spam-Status: Yes, score=-?[\\d.]+ required=-100\\.0 tests=").matcher(m).find(), m);
        assertFalse(m.contains("forged by the client"), "the client's own X-Spam-Status must be removed:\n" + m);
        assertFalse(m.contains("X-Spam-Score: -50"), "the client's own X-Spam-Score must be removed:\n" + m);
        assertEquals(1, count(m, "X-Spam-Status:"), m);
        assertTrue(m.contains("X-Portcullis-Flag: spamassassin (data_post): score"), m);
        // the subject, tagged, folded where it passes 78 characters, read back unfolded
        assertEquals("[SPAM] " + longSubject, header(m, "Subject"), m);
        assertEquals(1, count(m, "Subject:"), m);
        for (String line : m.split("\n", -1)) assertTrue(line.length() <= 998, "line too long: " + line);
    }

    @Test void aMessageAlreadyTaggedIsNotTaggedTwice() throws Exception {
        send(flagging, "127.0.0.4", message("[SPAM] seen before", ham("flag-marker-2")));
        String m = flagging.awaitMessage("alice", "flag-marker-2", DELIVERY);
        assertEquals("[SPAM] seen before", header(m, "Subject"), m);
    }

    @Test void messagesAboveMaxSizeAreNotScanned() throws Exception {
        SmtpScript.Reply r = send(small, "127.0.0.5", message("big one", ham("size-marker") + "\r\n" + GTUBE));
        assertEquals(250, r.code(), "a message over max_size is not scanned, so GTUBE passes: " + r);
        String m = small.awaitMessage("alice", "size-marker", DELIVERY);
        assertFalse(m.contains("X-Spam-Status"), m);
    }

    @Test void ownUsersSpamIsHeldForReviewNotRefused() throws Exception {
        int submission = holding.ports().get(1);
        var swaks = Processes.run(Duration.ofSeconds(60), null, new ArrayList<>(List.of("/usr/bin/swaks",
                "--server", "127.0.0.1", "--port", Integer.toString(submission), "--timeout", "30",
                "--helo", "laptop.home.test", "--tls", "--auth", "PLAIN", "--auth-user", "carol",
                "--auth-password", PASSWORD, "--from", "carol@example.test", "--to", "alice@example.test",
                "--header", "Subject: held one", "--body", "held-marker\n" + GTUBE)));
        swaks.assertSuccess();
        Matcher queued = Pattern.compile("queued as ([A-Za-z0-9]+)").matcher(swaks.output());
        assertTrue(queued.find(), swaks.output());
        String id = queued.group(1);
        Path hold = holding.dataDir().resolve("queue").resolve("messages").resolve(id + ".hold");
        assertTrue(Files.exists(hold), "not held: " + holding.queuedMessages());
        assertTrue(Files.readString(hold).startsWith("spamassassin: score "), Files.readString(hold));
        String stored = Files.readString(holding.dataDir().resolve("queue").resolve("messages").resolve(id), StandardCharsets.UTF_8);
        assertTrue(stored.contains("X-Spam-Status: Yes, score="), stored);

        // a stranger's GTUBE is still refused on the same server, and ordinary mail flows past the held one
        assertTrue(send(holding, "127.0.0.6", message("stranger", "x\r\n" + GTUBE)).is(550, "5.7.1"));
        assertEquals(250, send(holding, "127.0.0.6", message("after hold", ham("after-hold-marker"))).code());
        holding.awaitMessage("alice", "after-hold-marker", DELIVERY);
        assertTrue(holding.messages("alice").stream().noneMatch(m -> m.contains("held-marker")), "held message was delivered");
        assertTrue(holding.queuedMessages().contains(id), holding.queuedMessages().toString());
    }

    @Test void scanOnlyMarksOwnUsersSpamAndDeliversIt() throws Exception {
        SmtpScript.Reply r = send(scanOnly, "127.0.0.9", message("from the office", "scan-only-marker\r\n" + GTUBE));
        assertEquals(250, r.code(), r.toString());
        String m = scanOnly.awaitMessage("alice", "scan-only-marker", DELIVERY);
        assertTrue(Pattern.compile("X-Spam-Status: Yes, score=\\d{3,}\\.\\d required=5\\.0 tests=.*GTUBE").matcher(m).find(), m);
        assertTrue(m.contains("X-Portcullis-Flag: spamassassin (data_post): score"), m);
        // a stranger is refused
        assertTrue(send(scanOnly, "127.0.0.10", message("stranger", "x\r\n" + GTUBE)).is(550, "5.7.1"));
    }

    static int count(String message, String prefix) {
        int n = 0;
        for (String line : message.substring(0, message.indexOf("\n\n")).split("\n"))
            if (line.regionMatches(true, 0, prefix, 0, prefix.length())) n++;
        return n;
    }

    /** The first field {@code name} of the header of a message from a Maildir (LF line ends), unfolded. */
    static String header(String message, String name) {
        String head = message.substring(0, message.indexOf("\n\n") + 1).replaceAll("\n[ \t]", " ");
        Matcher m = Pattern.compile("(?mi)^" + Pattern.quote(name) + ":[ \t]*(.*?)$").matcher(head);
        assertTrue(m.find(), "no " + name + " in\n" + message);
        assertNotNull(m.group(1));
        return m.group(1).strip();
    }
}
