package dev.portcullis.it;

import dev.portcullis.testkit.SmtpSink;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.Main;
import dev.portcullis.hook.Address;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.RetryState;
import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code portcullis queue} against a running server: mail for example.net waits because its MX (Postfix's
 * smtp-sink on 127.0.0.2, at the [outbound] port) is down; the queue tools list it, hold, release, flush, delete
 * and bounce it while the server works on the same spool, and the sink, once started, shows what went out.
 */
@Timeout(120)
class QueueToolsTest {
    static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir Path dir;
    TestDns dns;
    int port;
    final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach void setUp() throws Exception {
        dns = new TestDns();
        dns.mx("example.net", 10, "mx.example.net").a("mx.example.net", "127.0.0.2")
                .mx("example.org", 10, "mx.example.org").a("mx.example.org", "127.0.0.3");
        port = SmtpSink.freePort("127.0.0.2", "127.0.0.3");
    }

    @AfterEach void tearDown() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) toClose.get(i).close();
        dns.close();
    }

    <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    TestServer server(String retry) throws IOException {
        return closing(TestServer.in(dir.resolve("server")).dns(dns)
                .section("relay", "networks = [\"127.0.0.0/8\"]")
                .section("outbound", "mode = \"mx\"\nport = " + port + "\nconnect_timeout = \"2s\"\nretry_intervals = [\""
                        + retry + "\"]\n")
                .start());
    }

    SmtpSink sink(String host, String name, String... options) {
        return closing(new SmtpSink(host, port, dir.resolve(name), options));
    }

    static String submit(TestServer s, String from, String subject, String... to) throws IOException {
        try (SmtpScript c = SmtpScript.open(s.port())) {
            c.command("EHLO client.test", 250, null);
            c.command("MAIL FROM:<" + from + ">", 250, null);
            for (String r : to) c.command("RCPT TO:<" + r + ">", 250, null);
            SmtpScript.Reply r = c.data("Subject: " + subject + "\r\nFrom: <" + from + ">\r\n\r\nthe body of " + subject + "\r\n");
            assertEquals(250, r.code(), r.toString());
            c.quit();
            return r.queueId();
        }
    }

    record Output(int exit, String out, String err) {
        String describe() { return "exit " + exit + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err; }
    }

    /** {@code portcullis queue ARGS --config <the server's>}, in this JVM, capturing what it prints. */
    static Output queue(TestServer s, String... args) {
        List<String> all = new ArrayList<>(List.of("queue"));
        all.addAll(List.of(args));
        all.addAll(List.of("--config", s.configFile().toString()));
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        synchronized (QueueToolsTest.class) {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            try {
                int exit = Main.run(all.toArray(String[]::new));
                return new Output(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
            } finally {
                System.setOut(out);
                System.setErr(err);
            }
        }
    }

    /** The same as a separate process, as an administrator runs it next to the server. */
    static Processes.Result queueProcess(TestServer s, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "dev.portcullis.Main", "queue"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--config", s.configFile().toString()));
        return Processes.run(Duration.ofSeconds(60), null, cmd);
    }

    static FileSpool spool(TestServer s) throws IOException { return new FileSpool(s.dataDir().resolve("queue")); }

    /** Waits until every listed message has retry state for {@code n} recipients, each tried at least once. */
    static void awaitDeferred(TestServer s, int n, String... ids) throws Exception {
        FileSpool spool = spool(s);
        long deadline = System.nanoTime() + WAIT.toNanos();
        for (String id : ids) {
            while (true) {
                Map<Address, RetryState> st = spool.retryState(id);
                if (st.size() >= n && st.values().stream().allMatch(r -> r.attempts() >= 1 && r.lastError() != null)) break;
                if (System.nanoTime() > deadline) throw new AssertionError(id + ": no retry state for " + n + " recipient(s): " + st);
                Thread.sleep(20);
            }
        }
    }

    static void awaitQueued(TestServer s, List<String> expected) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!spool(s).list().equals(expected)) {
            if (System.nanoTime() > deadline) throw new AssertionError("queue holds " + spool(s).list() + ", expected " + expected);
            Thread.sleep(20);
        }
    }

    // ---------------------------------------------------------------------------------------------------

    @Test void listAndShowTheDeferredMessagesWithTheirLastError() throws Exception {
        sink("127.0.0.2", "sink"); // not started: the MX refuses connections
        TestServer server = server("1h");
        String a = submit(server, "alice@example.test", "first", "x@example.net", "bob@example.test");
        String b = submit(server, "alice@example.test", "second", "y@example.net");
        awaitDeferred(server, 1, a, b);

        Output list = queue(server, "list");
        assertEquals(0, list.exit(), list.describe());
        List<String> lines = list.out().lines().toList();
        assertTrue(lines.getFirst().matches("ID +SIZE +AGE +SENDER"), list.describe());
        assertTrue(lines.get(1).matches(a + " +\\d+ +\\d+s +<alice@example\\.test>"), list.describe());
        assertTrue(lines.get(2).startsWith("    <x@example.net>  pending, 1 attempt, next in 59m: 4."), list.describe());
        assertTrue(lines.get(2).contains("127.0.0.2"), "the last error says which host refused: " + list.describe());
        assertEquals("    <bob@example.test>  done", lines.get(3), list.describe());
        assertTrue(lines.get(4).startsWith(b + " "), list.describe());
        assertTrue(lines.get(5).startsWith("    <y@example.net>  pending, 1 attempt"), list.describe());
        assertTrue(lines.get(6).matches("-- 2 messages, \\d+ bytes"), list.describe());

        JsonNode json = new ObjectMapper().readTree(queue(server, "list", "--json", "--rcpt-domain", "example.net").out());
        assertEquals(2, json.get("messages").size());
        JsonNode x = json.get("messages").get(0).get("recipients").get(0);
        assertEquals("x@example.net", x.get("address").asText());
        assertEquals(1, x.get("attempts").asInt());
        assertTrue(x.get("last_error").asText().contains("127.0.0.2"), x.toString());

        Output show = queue(server, "show", a);
        assertEquals(0, show.exit(), show.describe());
        assertTrue(show.out().contains("sender      <alice@example.test>\n"), show.describe());
        assertTrue(show.out().contains("client      127.0.0.1 helo client.test\n"), show.describe());
        assertTrue(show.out().contains("  <x@example.net>  pending\n      attempts 1, next attempt "), show.describe());
        assertTrue(show.out().contains("      last error: 4."), show.describe());
        assertTrue(show.out().contains("\nReceived: from client.test"), "our Received field heads the header: " + show.describe());
        assertTrue(show.out().contains("\nSubject: first\n"), show.describe());
        assertFalse(show.out().contains("the body of first"), show.describe());

        Output unknown = queue(server, "show", "01NOSUCHMESSAGE0");
        assertEquals(67, unknown.exit());
        assertEquals("portcullis: queue: no queued message 01NOSUCHMESSAGE0\n", unknown.err());
    }

    @Test void aHeldMessageStaysWhileTheOthersFlowAndGoesWhenReleased() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        TestServer server = server("1s");
        String a = submit(server, "alice@example.test", "one", "a@example.net");
        String b = submit(server, "alice@example.test", "two", "b@example.net");
        String c = submit(server, "alice@example.test", "three", "c@example.net");
        awaitDeferred(server, 1, a, b, c);

        Output hold = queue(server, "hold", b, "--reason", "looks like spam");
        assertEquals(0, hold.exit(), hold.describe());
        assertEquals("held " + b + "\n", hold.out());
        Thread.sleep(1500); // an attempt under way when the hold came finishes (against the dead MX); none starts after

        sink.start();
        awaitQueued(server, List.of(b));
        Thread.sleep(2500); // several retry periods: the server would have sent it by now
        assertEquals(1, sink.count("a@example.net"));
        assertEquals(1, sink.count("c@example.net"));
        assertEquals(0, sink.count("b@example.net"), "held: not delivered");
        Output list = queue(server, "list");
        assertTrue(list.out().contains(b) && list.out().contains("HELD: looks like spam"), list.describe());
        assertTrue(list.out().contains("    <b@example.net>  held"), list.describe());

        Output release = queue(server, "release", b);
        assertEquals(0, release.exit(), release.describe());
        assertEquals("released " + b + "\n", release.out());
        awaitQueued(server, List.of());
        sink.await(3, WAIT);
        assertEquals(1, sink.count("b@example.net"));
    }

    @Test void flushSendsDeferredMailAtOnceThoughTheNextRetryIsAnHourAway() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        TestServer server = server("1h");
        String a = submit(server, "alice@example.test", "one", "a@example.net");
        String b = submit(server, "bob@example.test", "two", "b@example.net", "b2@example.net");
        awaitDeferred(server, 1, a);
        awaitDeferred(server, 2, b);
        RetryState st = spool(server).retryState(a).values().iterator().next();
        assertTrue(st.nextAttempt().isAfter(Instant.now().plus(Duration.ofMinutes(55))), st.toString());

        sink.start();
        Thread.sleep(2500);
        assertEquals(0, sink.count("a@example.net") + sink.count("b@example.net"), "nothing is retried before its time");
        assertEquals(List.of(a, b), spool(server).list());

        long started = System.nanoTime();
        Processes.Result flush = queueProcess(server, "flush");
        assertEquals(0, flush.exitCode(), flush.describe("queue flush"));
        assertTrue(flush.output().contains("flush: the server is retrying the queue now (2 queued messages)"), flush.output());
        awaitQueued(server, List.of());
        sink.await(2, WAIT);
        assertTrue(System.nanoTime() - started < Duration.ofSeconds(15).toNanos());
        assertEquals(1, sink.count("a@example.net"));
        assertEquals(1, sink.count("b@example.net"));
        assertEquals(1, sink.count("b2@example.net"));
        assertFalse(Files.exists(server.dataDir().resolve("queue").resolve("flush")), "the server took the request");
    }

    @Test void deleteByRecipientDomainRemovesThoseRecipientsForGood() throws Exception {
        SmtpSink net = sink("127.0.0.2", "net");
        SmtpSink org = sink("127.0.0.3", "org");
        TestServer server = server("1s");
        String onlyNet = submit(server, "alice@example.test", "one", "x@example.net");
        String both = submit(server, "alice@example.test", "two", "y@example.net", "z@example.org");
        String onlyOrg = submit(server, "alice@example.test", "three", "w@example.org");
        awaitDeferred(server, 1, onlyNet, onlyOrg);
        awaitDeferred(server, 2, both);

        Output delete = queue(server, "delete", "--rcpt-domain", "example.net");
        assertEquals(0, delete.exit(), delete.describe());
        assertTrue(delete.out().contains("deleted " + onlyNet + " "), delete.describe());
        assertTrue(delete.out().contains(both + ": dropped <y@example.net>"), delete.describe());
        assertFalse(delete.out().contains(onlyOrg), delete.describe());
        assertEquals(64, queue(server, "delete", "--all").exit(), "--all needs --yes");

        net.start();
        org.start();
        org.await(2, WAIT);
        awaitQueued(server, List.of());
        Thread.sleep(1500); // a retry period more: nothing else turns up
        assertEquals(0, net.count("x@example.net") + net.count("y@example.net"), "deleted recipients are never delivered");
        assertEquals(1, org.count("z@example.org"));
        assertEquals(1, org.count("w@example.org"));
        assertTrue(server.messages("alice").isEmpty(), "delete tells nobody");
    }

    @Test void bounceSendsAnRfc3464BounceToTheLocalSender() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        TestServer server = server("1h");
        String id = submit(server, "alice@example.test", "to be bounced", "x@example.net");
        awaitDeferred(server, 1, id);

        Output bounce = queue(server, "bounce", id);
        assertEquals(0, bounce.exit(), bounce.describe());
        assertTrue(bounce.out().startsWith("bounced " + id + ": 1 recipient, report to <alice@example.test> queued as "),
                bounce.describe());
        String dsn = server.awaitMessages("alice", 1, WAIT).getFirst();
        awaitQueued(server, List.of());
        String unfolded = dsn.replaceAll("\n(?=[ \t])", "");
        assertTrue(dsn.startsWith("Return-Path: <>\n"), dsn);
        assertTrue(dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"), dsn);
        assertTrue(dsn.contains("Content-Type: message/delivery-status"), dsn);
        assertTrue(dsn.contains("Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.0.0\n"), dsn);
        assertTrue(unfolded.contains("Diagnostic-Code: X-Portcullis; bounced by the administrator; last attempt: 4."), dsn);
        assertTrue(dsn.contains("X-Portcullis-Queue-ID: " + id), dsn);
        assertTrue(dsn.contains("Subject: to be bounced"), "the original header is quoted: " + dsn);
        assertFalse(dsn.contains("the body of to be bounced"), dsn);

        sink.start();
        Thread.sleep(1000);
        assertEquals(0, sink.count("x@example.net"), "a bounced message is not delivered");
    }

    @Test void aMessageDeletedWhileBeingDeliveredIsLetGoWithoutErrorLoops() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-w", "6"); // 6 s before the reply to DATA: the transaction is under way
        sink.start();
        List<LogRecord> log = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override public void publish(LogRecord r) { log.add(r); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        Logger portcullis = Logger.getLogger("portcullis");
        portcullis.addHandler(capture);
        toClose.add(() -> portcullis.removeHandler(capture));
        TestServer server = server("1s");
        String id = submit(server, "alice@example.test", "in flight", "busy@example.net");
        // another process sees it once it has its queue file (at most 2 s after the 250, see FileSpool)
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!spool(server).list().equals(List.of(id)) && System.nanoTime() < deadline) Thread.sleep(50);
        assertEquals(List.of(id), spool(server).list());

        Output delete = queue(server, "delete", id);
        assertEquals(0, delete.exit(), delete.describe());
        Thread.sleep(6000); // the DATA reply comes, the server finds the message gone
        long mentions = mentions(log, id);
        Thread.sleep(3000); // several retry periods
        assertEquals(mentions, mentions(log, id), "nothing more happens to it: " + messages(log, id));
        assertEquals(List.of(), spool(server).list());
        assertTrue(log.stream().noneMatch(r -> r.getLevel().intValue() >= Level.SEVERE.intValue()), messages(log, id));
        assertEquals(0, sink.count("busy@example.net"), "its content was gone before the DATA: " + messages(log, id));
    }

    private static long mentions(List<LogRecord> log, String id) {
        return log.stream().filter(r -> r.getMessage() != null && r.getMessage().contains(id)).count();
    }

    private static String messages(List<LogRecord> log, String id) {
        return String.join("\n", log.stream().map(LogRecord::getMessage).filter(m -> m != null && m.contains(id)).toList());
    }

}
