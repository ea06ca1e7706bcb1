package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.Main;
import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.QueueIds;
import dev.portcullis.queue.RetryState;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code portcullis queue} on a spool written here through FileSpool, without a server: the selection, the
 * output, the exit codes and what each command leaves in the spool. QueueToolsTest runs it against a live server.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QueueCommandTest {
    @TempDir Path dir;
    Path config;
    Path queueDir;

    @BeforeEach void writeConfig() throws Exception {
        config = dir.resolve("portcullis.toml");
        Files.writeString(config, """
                [server]
                hostname = "mx.test"
                data_dir = "data"
                [local]
                domains = ["example.test"]
                users = ["alice", "bob"]
                """);
        queueDir = dir.resolve("data").resolve("queue");
    }

    record Output(int exit, String out, String err) {}

    static Output run(String... args) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.run(args);
            return new Output(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    Output queue(String... args) {
        List<String> all = new ArrayList<>(List.of("queue"));
        all.addAll(List.of(args));
        all.addAll(List.of("--config", config.toString()));
        return run(all.toArray(String[]::new));
    }

    FileSpool spool() throws Exception { return new FileSpool(queueDir); }

    static Address addr(String mailbox) {
        if (mailbox.isEmpty()) return Address.NULL_SENDER;
        int at = mailbox.lastIndexOf('@');
        return Address.of(mailbox.substring(0, at), mailbox.substring(at + 1));
    }

    String storeWith(String content, String from, String... to) throws Exception {
        String id = QueueIds.next();
        List<Address> rcpts = List.of(to).stream().map(QueueCommandTest::addr).toList();
        spool().store(new Envelope(id, addr(from), rcpts, Instant.now().minusSeconds(600), "192.0.2.1", "client.test",
                null, Map.of()), List.of(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8))));
        return id;
    }

    String store(String from, String... to) throws Exception {
        return storeWith("Subject: queued\r\nFrom: " + from + "\r\n\r\nthe body\r\n", from, to);
    }

    void deferred(String id, String rcpt, Duration in, String error) throws Exception {
        spool().saveRetryState(id, List.of(new RetryState(addr(rcpt), 2, Instant.now().plus(in), "4.4.1",
                "mx.example.net", error, false)));
    }

    @Test void anEmptyOrMissingQueueIsEmptyAndNothingIsCreated() throws Exception {
        Output o = queue("list");
        assertEquals(0, o.exit(), o.err());
        assertEquals("Mail queue is empty\n", o.out());
        assertFalse(Files.exists(dir.resolve("data")), "the tool never creates the data folder");
        assertEquals(0, queue("flush", "--wait", "0").exit());
        spool();
        assertEquals("Mail queue is empty\n", queue("list").out());
    }

    @Test void listShowsEachMessageWithItsRecipientsTheirStateAndLastError() throws Exception {
        String a = store("alice@example.test", "x@example.net", "bob@example.test");
        spool().markDone(a, addr("bob@example.test"));
        deferred(a, "x@example.net", Duration.ofMinutes(59).plusSeconds(30),
                "connect to mx.example.net[127.0.0.2]:25: ConnectException: Connection refused");
        String b = store("", "y@example.org");
        spool().hold(b, "suspicious");

        Output o = queue("list");
        assertEquals(0, o.exit(), o.err());
        List<String> lines = o.out().lines().toList();
        assertTrue(lines.getFirst().matches("ID +SIZE +AGE +SENDER"), o.out());
        int size = "Subject: queued\r\nFrom: alice@example.test\r\n\r\nthe body\r\n".length();
        assertTrue(lines.get(1).matches(a + " +" + size + " +10m +<alice@example\\.test>"), o.out());
        assertEquals("    <x@example.net>  pending, 2 attempts, next in 59m: 4.4.1 connect to mx.example.net[127.0.0.2]:25: "
                + "ConnectException: Connection refused", lines.get(2));
        assertEquals("    <bob@example.test>  done", lines.get(3));
        assertTrue(lines.get(4).matches(b + " +\\d+ +10m +<>  HELD: suspicious"), o.out());
        assertEquals("    <y@example.org>  held", lines.get(5));
        assertTrue(lines.get(6).matches("-- 2 messages, \\d+ bytes, 1 held"), o.out());

        JsonNode json = new ObjectMapper().readTree(queue("list", "--json").out());
        JsonNode m = json.get("messages").get(0);
        assertEquals(a, m.get("id").asText());
        assertEquals(size, m.get("size").asInt());
        assertEquals("alice@example.test", m.get("sender").asText());
        assertTrue(m.get("held").isNull());
        JsonNode x = m.get("recipients").get(0);
        assertEquals("x@example.net", x.get("address").asText());
        assertEquals("pending", x.get("state").asText());
        assertEquals(2, x.get("attempts").asInt());
        assertEquals("4.4.1", x.get("status").asText());
        assertTrue(x.get("last_error").asText().contains("Connection refused"));
        assertEquals("done", m.get("recipients").get(1).get("state").asText());
        assertEquals("suspicious", json.get("messages").get(1).get("held").asText());

        Output filtered = queue("list", "--sender", "<>");
        assertFalse(filtered.out().contains(a), filtered.out());
        assertTrue(filtered.out().contains(b), filtered.out());
    }

    @Test void showPrintsTheEnvelopeStateAndTheHeaderButNotTheBodyAndNoEscapeSequences() throws Exception {
        String id = storeWith("Subject: hello\r\nX-Evil: \u001b[2J\u009b31m\u202egnp.exe\r\n"
                + "\tfolded\r\n\r\nthe secret body\r\n", "alice@example.test", "x@example.net");
        deferred(id, "x@example.net", Duration.ofHours(1), "smtp; 451 4.4.1 try \u001b[31mlater");
        Output o = queue("show", id);
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().contains("queue id    " + id + "\n"), o.out());
        assertTrue(o.out().contains("sender      <alice@example.test>\n"), o.out());
        assertTrue(o.out().contains("client      192.0.2.1 helo client.test\n"), o.out());
        assertTrue(o.out().contains("hold        not held\n"), o.out());
        assertTrue(o.out().contains("  <x@example.net>  pending\n      attempts 2, next attempt "), o.out());
        assertTrue(o.out().contains("last host mx.example.net"), o.out());
        assertTrue(o.out().contains("      last error: 4.4.1 smtp; 451 4.4.1 try ?[31mlater\n"), o.out());
        assertTrue(o.out().contains("\n\nSubject: hello\nX-Evil: ?[2J?31m?gnp.exe\n\tfolded\n"), o.out());
        assertFalse(o.out().contains("secret body"), o.out());
        assertFalse(o.out().chars().anyMatch(c -> c == 0x1b || c == 0x9b || c == 0x202e), "nothing reaches the terminal raw");

        JsonNode json = new ObjectMapper().readTree(queue("show", "--json", id).out());
        assertTrue(json.get("header").asText().startsWith("Subject: hello\r\n"), json.toString());
    }

    @Test void exitCodes() throws Exception {
        String id = store("alice@example.test", "x@example.net");
        Output o = queue("show", "01NOSUCHMESSAGE0");
        assertEquals(67, o.exit());
        assertEquals("portcullis: queue: no queued message 01NOSUCHMESSAGE0\n", o.err());
        assertEquals(67, queue("show", "../../etc/passwd").exit());
        o = queue("hold", id, "01NOSUCHMESSAGE0");
        assertEquals(67, o.exit(), "an unknown id is an error even when the others were acted on");
        assertEquals("held by the administrator", spool().heldReason(id));
        assertEquals(64, queue("hold").exit(), "no selection");
        assertEquals(64, queue("delete", "--all").exit(), "--all needs --yes");
        assertEquals(64, queue("bounce", "--all").exit(), "--all needs --yes");
        assertEquals(64, queue("delete", "--all", "--yes", id).exit(), "--all with ids");
        assertEquals(64, queue("hold", "--rcpt-domain", "a b").exit());
        assertEquals(64, queue("frobnicate").exit());
        assertEquals(64, run("queue").exit());
        assertEquals(List.of(id), spool().list(), "nothing deleted by a refused command");
        Output bad = run("queue", "list", "--config", dir.resolve("missing.toml").toString());
        assertEquals(78, bad.exit());
        assertEquals(1, bad.err().lines().count(), bad.err());
    }

    @Test void holdAndReleaseBySenderAndReleaseMakesTheRecipientsDue() throws Exception {
        String a1 = store("alice@example.test", "x@example.net");
        String a2 = store("Alice@Example.Test", "y@example.net");
        String b = store("bob@example.test", "z@example.net");
        deferred(a1, "x@example.net", Duration.ofHours(1), "refused");

        Output o = queue("hold", "--sender", "alice@example.test", "--reason", "abuse report 42");
        assertEquals(0, o.exit(), o.err());
        assertEquals("held " + a1 + "\nheld " + a2 + "\n", o.out());
        assertEquals("abuse report 42", spool().heldReason(a1));
        assertNull(spool().heldReason(b));
        assertTrue(queue("hold", a1).out().contains("already held (abuse report 42)"));

        o = queue("release", "--rcpt-domain", "EXAMPLE.NET.", "--sender", "<alice@example.test>");
        assertEquals("released " + a1 + "\nreleased " + a2 + "\n", o.out());
        assertNull(spool().heldReason(a1));
        RetryState s = spool().retryState(a1).get(addr("x@example.net"));
        assertFalse(s.nextAttempt().isAfter(Instant.now()), "due at once: " + s);
        assertEquals(2, s.attempts(), "the rest of the state is kept");
        assertTrue(Files.exists(queueDir.resolve("rescan")), "the server is asked to look now");
        assertEquals(b + ": not held\n", queue("release", b).out());
    }

    @Test void deleteByRecipientDomainDropsOnlyThoseRecipients() throws Exception {
        String onlyNet = store("alice@example.test", "x@example.net");
        String both = store("alice@example.test", "y@example.net", "z@example.org");
        String onlyOrg = store("alice@example.test", "w@example.org");
        Output o = queue("delete", "--rcpt-domain", "example.net");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().contains("deleted " + onlyNet + " (1 recipient in example.net)"), o.out());
        assertTrue(o.out().contains(both + ": dropped <y@example.net>; the other recipients stay queued"), o.out());
        assertEquals(List.of(both, onlyOrg), spool().list());
        assertEquals(java.util.Set.of(addr("y@example.net")), spool().done(both));

        assertEquals(0, queue("delete", "--all", "--yes").exit());
        assertEquals(List.of(), spool().list());
    }

    @Test void deleteByIdRemovesEvenAnUnreadableMessage() throws Exception {
        String id = store("alice@example.test", "x@example.net");
        Files.writeString(queueDir.resolve("messages").resolve(id), "garbage\n");
        Output o = queue("delete", id);
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().startsWith("deleted " + id + " (unreadable: "), o.out());
        assertEquals(List.of(), spool().list());
    }

    @Test void bounceStoresAnRfc3464ReportForTheSenderAndRemovesTheMessage() throws Exception {
        String id = store("alice@example.test", "x@example.net", "y@example.net");
        deferred(id, "x@example.net", Duration.ofHours(1), "connect to mx.example.net[127.0.0.2]:25: Connection refused");
        Output o = queue("bounce", id);
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().startsWith("bounced " + id + ": 2 recipients, report to <alice@example.test> queued as "), o.out());
        List<String> queued = spool().list();
        assertEquals(1, queued.size(), "the original is gone, the report queued: " + queued);
        String dsn = queued.getFirst();
        Envelope e = spool().envelope(dsn);
        assertTrue(e.sender().isNull());
        assertEquals(List.of(addr("alice@example.test")), e.recipients());
        String text;
        try (InputStream in = spool().content(dsn)) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8).replaceAll("\r\n(?=[ \t])", ""); // unfolded
        }
        assertTrue(text.contains("Content-Type: multipart/report; report-type=delivery-status;"), text);
        assertTrue(text.contains("Final-Recipient: rfc822; x@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n"), text);
        assertTrue(text.contains("Final-Recipient: rfc822; y@example.net"), text);
        assertTrue(text.contains("Diagnostic-Code: X-Portcullis; bounced by the administrator; last attempt: 4.4.1"), text);
        assertTrue(text.contains("Subject: queued"), "the original header is quoted");
        assertFalse(text.contains("the body"), "but not the body");
        assertTrue(Files.exists(queueDir.resolve("rescan")), "the server is asked to deliver the report now");
    }

    @Test void bounceOfAMessageFromTheNullSenderSendsNoReport() throws Exception {
        String id = store("", "x@example.net");
        Output o = queue("bounce", id);
        assertEquals(0, o.exit(), o.err());
        assertEquals(id + ": from <>: 1 recipient dropped, no report (never a bounce to the null sender); removed\n", o.out());
        assertEquals(List.of(), spool().list());
    }

    @Test void bounceByDomainReportsOnlyThoseRecipientsAndKeepsTheRest() throws Exception {
        String id = store("alice@example.test", "x@example.net", "z@example.org");
        Output o = queue("bounce", "--rcpt-domain", "example.org");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().contains("bounced " + id + ": 1 recipient"), o.out());
        assertTrue(o.out().contains("the other recipients stay queued"), o.out());
        assertEquals(java.util.Set.of(addr("z@example.org")), spool().done(id));
        assertEquals(2, spool().list().size());
    }

    @Test void flushWithoutARunningServerLeavesTheRequestAndSaysSo() throws Exception {
        store("alice@example.test", "x@example.net");
        Output o = queue("flush", "--wait", "0");
        assertEquals(0, o.exit(), o.err());
        assertTrue(o.out().startsWith("flush requested (1 queued message); no running server took it"), o.out());
        assertTrue(Files.exists(queueDir.resolve("flush")));
    }
}
