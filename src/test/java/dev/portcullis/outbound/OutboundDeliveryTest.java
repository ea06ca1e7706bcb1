package dev.portcullis.outbound;

import dev.portcullis.testkit.SmtpSink;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.RetryState;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Direct-to-MX delivery end to end: a relay client submits to a real Portcullis, whose outbound queue looks up
 * the MX in the test DNS and delivers to Postfix's smtp-sink on 127.0.0.x (the [outbound] port is the sink's).
 * Deferrals, retries, restarts, bounces into the sender's Maildir, null MX and the A fallback, all with real
 * peers on loopback.
 */
@Timeout(90)
class OutboundDeliveryTest {
    static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir Path dir;
    TestDns dns;
    final List<AutoCloseable> toClose = new ArrayList<>();
    int port;

    @BeforeEach void setUp() throws Exception {
        dns = new TestDns();
        dns.mx("example.net", 10, "mx.example.net").a("mx.example.net", "127.0.0.2");
        port = SmtpSink.freePort("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5");
    }

    @AfterEach void tearDown() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) toClose.get(i).close();
        dns.close();
    }

    <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    SmtpSink sink(String host, String name, String... options) {
        return closing(new SmtpSink(host, port, dir.resolve(name), options));
    }

    TestServer.Builder server(String data, String outboundExtra) {
        return TestServer.in(dir.resolve(data)).dns(dns)
                .section("relay", "networks = [\"127.0.0.0/8\"]")
                .section("outbound", "mode = \"mx\"\nport = " + port + "\nconnect_timeout = \"2s\"\n"
                        + (outboundExtra.contains("retry_intervals") ? "" : "retry_intervals = [\"1s\"]\n") + outboundExtra);
    }

    /** Submits one message as a relay client; returns its queue id. */
    static String submit(TestServer s, String from, List<String> to, String body) throws IOException {
        return submit(s, from, "", to, "Subject: outbound test\r\n\r\n" + body);
    }

    static String submit(TestServer s, String from, String mailParams, List<String> to, String message) throws IOException {
        try (SmtpScript c = SmtpScript.open(s.port())) {
            c.command("EHLO client.test", 250, null);
            c.command(utf8("MAIL FROM:<" + from + ">" + mailParams), 250, null);
            for (String r : to) c.command(utf8("RCPT TO:<" + r + ">"), 250, null);
            SmtpScript.Reply r = c.data(utf8(message));
            assertEquals(250, r.code(), r.toString());
            c.quit();
            return r.queueId();
        }
    }

    @Test void deliversToTheMxAndRetriesUntilTheSinkComesBack() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        TestServer server = closing(server("a", "").start());
        // The sink is not running: the message waits, with its retry state on disk.
        String id = submit(server, "alice@example.test", List.of("x@example.net", "y@example.net"),
                "first line\r\n..leading dot\r\nlast line"); // as the client sends it: dot-stuffed
        FileSpool spool = new FileSpool(server.dataDir().resolve("queue"));
        Map<Address, RetryState> state = awaitState(spool, id, 2);
        RetryState x = state.get(Address.of("x", "example.net"));
        assertTrue(x.attempts() >= 1, x.toString());
        assertTrue(x.status().startsWith("4."), x.toString());
        assertTrue(x.lastError().contains("127.0.0.2"), x.toString());
        assertEquals(List.of(id), server.queuedMessages());

        sink.start();
        server.awaitQueueEmpty(WAIT);
        List<SmtpSink.Dump> dumps = sink.await(1, WAIT);
        assertEquals(1, dumps.size(), "one transaction for both recipients");
        SmtpSink.Dump d = dumps.getFirst();
        assertTrue(d.mailArgs().startsWith("<alice@example.test>"), d.mailArgs());
        assertEquals(List.of("<x@example.net>", "<y@example.net>"), d.rcptArgs());
        assertEquals("mx.test", d.heloArgs());
        String msg = d.message();
        assertTrue(msg.contains("\nSubject: outbound test\n"), msg);
        assertTrue(msg.contains("\nfirst line\n.leading dot\nlast line\n"), "dot-stuffed on the wire, unstuffed by the sink:\n" + msg);
        assertTrue(msg.contains("by mx.test (Portcullis) with ESMTP id " + id), msg);
        assertTrue(server.messages("alice").isEmpty(), "no bounce, no warning");
    }

    /**
     * A message relayed at once leaves the queue without a file of its own: it stays in memory from its 250
     * to its removal (UnfiledMessages), with no queue file and no .done file written for a moment only to be
     * unlinked. Seen through the queue folder's inotify events.
     */
    @Test void aMessageRelayedAtOnceIsNeverWrittenToTheQueueFolder() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        sink.start();
        TestServer server = closing(server("a", "").start());
        submit(server, "alice@example.test", List.of("warm@example.net"), "the first one warms the path up");
        sink.await(1, WAIT);
        server.awaitQueueEmpty(WAIT);
        Path messages = server.dataDir().resolve("queue").resolve("messages");
        try (java.nio.file.WatchService watch = messages.getFileSystem().newWatchService()) {
            messages.register(watch, java.nio.file.StandardWatchEventKinds.ENTRY_CREATE);
            String id = submit(server, "alice@example.test", List.of("x@example.net", "y@example.net"), "relayed at once");
            assertEquals(2, sink.await(2, WAIT).size());
            server.awaitQueueEmpty(WAIT);
            List<String> created = new ArrayList<>();
            java.nio.file.WatchKey key = watch.poll(500, java.util.concurrent.TimeUnit.MILLISECONDS);
            if (key != null) for (var event : key.pollEvents()) created.add(String.valueOf(event.context()));
            assertEquals(List.of(), created, "files created in the queue folder while " + id + " was relayed");
        }
    }

    @Test void aPermanentRefusalBouncesIntoTheLocalSendersMaildir() throws Exception {
        sink("127.0.0.2", "sink", "-B", "550 5.1.1 <x@example.net>: Recipient address rejected: User unknown", "-f", "RCPT").start();
        TestServer server = closing(server("a", "").start());
        String id = submit(server, "alice@example.test", List.of("x@example.net"), "hello");
        String bounce = server.awaitMessages("alice", 1, WAIT).getFirst();
        server.awaitQueueEmpty(WAIT);
        assertTrue(bounce.startsWith("Return-Path: <>\n"), bounce);
        assertTrue(bounce.contains("multipart/report"), bounce);
        assertTrue(bounce.contains("report-type=delivery-status"), bounce);
        assertTrue(bounce.contains("Final-Recipient: rfc822; x@example.net"), bounce);
        assertTrue(bounce.contains("Action: failed"), bounce);
        assertTrue(bounce.contains("Status: 5.1.1"), bounce);
        assertTrue(bounce.contains("Remote-MTA: dns; mx.example.net"), bounce);
        assertTrue(bounce.contains("Diagnostic-Code: smtp; 550 5.1.1"), bounce);
        assertTrue(bounce.contains("Subject: outbound test"), "the original header is quoted:\n" + bounce);
        assertTrue(bounce.contains(id), bounce);
    }

    @Test void aFailedBounceIsADoubleBounceToThePostmasterAndNeverLoops() throws Exception {
        sink("127.0.0.2", "sink", "-f", "RCPT").start();
        TestServer server = closing(server("a", "").toml("""
                [[plugin]]
                name = "relay"
                null_sender_relay = true
                [[plugin]]
                name = "rcpt"
                """).start());
        submit(server, "", List.of("x@example.net"), "a bounce from elsewhere, relayed");
        String notice = server.awaitMessages("postmaster", 1, WAIT).getFirst();
        server.awaitQueueEmpty(WAIT);
        assertTrue(notice.startsWith("Return-Path: <>\n"), notice);
        assertTrue(notice.contains("multipart/report"), notice);
        assertTrue(notice.contains("Final-Recipient: rfc822; x@example.net"), notice);
        Thread.sleep(300);
        assertEquals(1, server.messages("postmaster").size());
        assertTrue(server.messages("alice").isEmpty());
    }

    @Test void nullMxBouncesAtOnceWithoutConnecting() throws Exception {
        dns.mx("nomail.example", 0, ".");
        SmtpSink sink = sink("127.0.0.2", "sink").start();
        TestServer server = closing(server("a", "").start());
        submit(server, "bob@example.test", List.of("someone@nomail.example"), "hello");
        String bounce = server.awaitMessages("bob", 1, WAIT).getFirst();
        server.awaitQueueEmpty(WAIT);
        assertTrue(bounce.contains("Status: 5.1.10"), bounce);
        assertTrue(bounce.contains("Action: failed"), bounce);
        assertEquals(0, sink.dumps().size());
    }

    @Test void withoutMxTheDomainsOwnAddressIsUsed() throws Exception {
        dns.a("amx.example", "127.0.0.3"); // no MX record: RFC 5321 5.1 implicit MX
        SmtpSink sink = sink("127.0.0.3", "sink").start();
        TestServer server = closing(server("a", "").start());
        submit(server, "alice@example.test", List.of("r@amx.example"), "via A");
        assertEquals(List.of("<r@amx.example>"), sink.await(1, WAIT).getFirst().rcptArgs());
        server.awaitQueueEmpty(WAIT);
    }

    @Test void nextMxAfterARefusedConnectionOrA4xxGreeting() throws Exception {
        dns.clear();
        dns.mx("multi.example", 5, "dead.multi.example").a("dead.multi.example", "127.0.0.4") // nothing listens
                .mx("multi.example", 10, "busy.multi.example").a("busy.multi.example", "127.0.0.5")
                .mx("multi.example", 20, "good.multi.example").a("good.multi.example", "127.0.0.3");
        SmtpSink busy = sink("127.0.0.5", "busy", "-r", "CONNECT").start(); // 450 greeting
        SmtpSink good = sink("127.0.0.3", "good").start();
        TestServer server = closing(server("a", "").start());
        submit(server, "alice@example.test", List.of("r@multi.example"), "third time lucky");
        good.await(1, WAIT);
        server.awaitQueueEmpty(WAIT);
        assertEquals(0, busy.dumps().size());
    }

    @Test void restartKeepsEveryRecipientAndDeliversNoneTwice() throws Exception {
        dns.mx("example.org", 10, "mx.example.org").a("mx.example.org", "127.0.0.3");
        SmtpSink net = sink("127.0.0.2", "net");           // down until after the restart
        SmtpSink org = sink("127.0.0.3", "org").start();  // up
        TestServer first = server("a", "").start();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            ids.add(submit(first, "alice@example.test",
                    List.of("a" + i + "@example.net", "b" + i + "@example.net", "c" + i + "@example.org", "bob@example.test"),
                    "message " + i));
        org.await(3, WAIT);
        first.awaitMessages("bob", 3, WAIT);
        FileSpool spool = new FileSpool(first.dataDir().resolve("queue"));
        for (String id : ids) awaitState(spool, id, 2);
        first.close();
        assertEquals(ids, first.queuedMessages(), "the example.net recipients keep every message queued");
        for (String id : ids) {
            Map<Address, RetryState> st = spool.retryState(id);
            assertEquals(2, st.size(), st.toString());
            assertTrue(spool.done(id).contains(Address.of("bob", "example.test")));
        }

        net.start();
        TestServer second = closing(server("a", "").start());
        second.awaitQueueEmpty(WAIT);
        net.await(3, WAIT);
        for (int i = 0; i < 3; i++) {
            assertEquals(1, net.count("a" + i + "@example.net"), "a" + i);
            assertEquals(1, net.count("b" + i + "@example.net"), "b" + i);
            assertEquals(1, org.count("c" + i + "@example.org"), "delivered before the restart, not again: c" + i);
        }
        assertEquals(3, org.dumps().size());
        assertEquals(3, second.messages("bob").size(), "local recipients are not delivered again either");
        assertTrue(second.messages("alice").isEmpty());
    }

    @Test void aDeliveryUnderWayAtShutdownIsNeitherLostNorRepeated() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-w", "2"); // 2 s before the 354: the transaction is under way
        sink.start();
        TestServer first = server("a", "").start();
        String id = submit(first, "alice@example.test", List.of("busy@example.net", "bob@example.test"), "in flight");
        first.awaitMessages("bob", 1, WAIT);
        Thread.sleep(500);
        first.close(); // waits a few seconds for sessions under way
        TestServer second = closing(server("a", "").start());
        second.awaitQueueEmpty(WAIT);
        sink.await(1, WAIT);
        Thread.sleep(300);
        assertEquals(1, sink.count("busy@example.net"), "exactly once: " + id);
        assertEquals(1, second.messages("bob").size());
    }

    @Test void aDelayWarningIsSentOnceThenTheMessageIsDelivered() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink");
        TestServer server = closing(server("a", "delay_warning_after = \"1s\"\ngive_up_after = \"1h\"\n").start());
        submit(server, "alice@example.test", List.of("late@example.net"), "slow");
        String warning = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(warning.contains("Action: delayed"), warning);
        assertTrue(warning.contains("Final-Recipient: rfc822; late@example.net"), warning);
        assertTrue(warning.contains("Will-Retry-Until: "), "give_up_after is said: " + warning);
        Thread.sleep(2500); // more attempts fail meanwhile: still only one warning
        assertEquals(1, server.messages("alice").size());
        sink.start();
        sink.await(1, WAIT);
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
    }

    @Test void givingUpAfterTheQueueLifetimeBounces() throws Exception {
        TestServer server = closing(server("a", "give_up_after = \"2s\"\n").start());
        submit(server, "alice@example.test", List.of("never@example.net"), "nobody home");
        String bounce = server.awaitMessages("alice", 1, WAIT).getFirst();
        server.awaitQueueEmpty(WAIT);
        assertTrue(bounce.contains("Action: failed"), bounce);
        assertTrue(bounce.contains("Final-Recipient: rfc822; never@example.net"), bounce);
        assertTrue(bounce.contains("127.0.0.2"), "the last error is reported:\n" + bounce);
    }

    @Test void aTemporaryRefusalIsRetried() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-r", "RCPT").start(); // 450 to every RCPT
        TestServer server = closing(server("a", "").start());
        String id = submit(server, "alice@example.test", List.of("t@example.net"), "try later");
        FileSpool spool = new FileSpool(server.dataDir().resolve("queue"));
        RetryState st = awaitState(spool, id, 1).get(Address.of("t", "example.net"));
        assertTrue(st.lastError().contains("450"), st.toString());
        assertEquals("mx.example.net", st.remoteMta());
        sink.stop();
        SmtpSink fixed = new SmtpSink("127.0.0.2", port, dir.resolve("fixed"));
        closing(fixed).start();
        fixed.await(1, WAIT);
        server.awaitQueueEmpty(WAIT);
        assertTrue(server.messages("alice").isEmpty());
    }

    @Test void anSmtputf8MessageIsNotSentToAServerWithoutSmtputf8() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink").start(); // smtp-sink never offers SMTPUTF8
        TestServer server = closing(server("a", "").start());
        submit(server, "alice@example.test", " SMTPUTF8", List.of("jos\u00e9@example.net"),
                "Subject: caf\u00e9\r\n\r\nbody");
        String bounce = server.awaitMessages("alice", 1, WAIT).getFirst();
        server.awaitQueueEmpty(WAIT);
        assertTrue(bounce.contains("Status: 5.6.7"), bounce);
        assertEquals(0, sink.dumps().size());
    }

    @Test void ipv6MxHost() throws Exception {
        dns.clear();
        dns.mx("v6.example", 10, "mx.v6.example").aaaa("mx.v6.example", "::1");
        int p6 = SmtpSink.freePort("::1");
        SmtpSink sink = closing(new SmtpSink("::1", p6, dir.resolve("v6"))).start();
        TestServer server = closing(TestServer.in(dir.resolve("a")).dns(dns)
                .section("relay", "networks = [\"127.0.0.0/8\"]")
                .section("outbound", "mode = \"mx\"\nport = " + p6 + "\nretry_intervals = [\"1s\"]\n").start());
        submit(server, "alice@example.test", List.of("six@v6.example"), "over IPv6");
        SmtpSink.Dump d = sink.await(1, WAIT).getFirst();
        assertEquals(List.of("<six@v6.example>"), d.rcptArgs());
        server.awaitQueueEmpty(WAIT);
    }

    @Test void queuedMessagesFlowOutOverOneReusedSessionWhenThePeerComesBack() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-c");
        TestServer server = closing(server("a", "max_connections_per_destination = 1\nrate_per_destination = \"50/s\"\n"
                + "retry_intervals = [\"2s\"]\n").start());
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) ids.add(submit(server, "alice@example.test", List.of("m" + i + "@example.net"), "number " + i));
        FileSpool spool = new FileSpool(server.dataDir().resolve("queue"));
        for (String id : ids) awaitState(spool, id, 1);
        sink.start();
        List<SmtpSink.Dump> dumps = sink.await(5, WAIT);
        server.awaitQueueEmpty(WAIT);
        assertEquals(5, dumps.size());
        Thread.sleep(200); // the QUIT after the last message updates the counters
        // The first retry that gets through brings the others forward; with one connection allowed to the
        // destination they follow on the same session, RSET between.
        assertTrue(sink.sessions() <= 2, "sessions: " + sink.sessions() + "\n" + sink.log());
    }

    /**
     * Messages that come one at a time, each delivered before the next arrives, go out over one session:
     * the worker keeps it open for a moment (IDLE_KEEP) instead of quitting as soon as its lane is empty.
     */
    @Test void messagesComingOneAtATimeShareOneSession() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-c");
        sink.start();
        TestServer server = closing(server("a", "").start());
        for (int i = 0; i < 4; i++) {
            submit(server, "alice@example.test", List.of("t" + i + "@example.net"), "number " + i);
            sink.await(i + 1, WAIT);
            Thread.sleep(100); // well inside the session's keep, far longer than the next message takes
        }
        server.awaitQueueEmpty(WAIT);
        // smtp-sink counts a session when it ends: none has, so all four went over the one still open
        assertEquals(0, sink.sessions(), "sessions ended during 4 messages:\n" + sink.log());
        Thread.sleep(OutboundQueue.IDLE_KEEP.toMillis() + 1000);
        assertEquals(1, sink.sessions(), "one session once nothing more comes:\n" + sink.log());
        assertEquals(1, sink.quits(), "and it ends with QUIT:\n" + sink.log());
    }

    /**
     * A kept session gives way when every connection is in use and another destination has mail: with one
     * connection allowed, mail for a second domain goes out at once, not after the first session's keep.
     */
    @Test void aKeptSessionGivesWayToAnotherDestinationWhenNoConnectionIsFree() throws Exception {
        dns.mx("example.org", 10, "mx.example.org").a("mx.example.org", "127.0.0.3");
        SmtpSink first = sink("127.0.0.2", "first", "-c");
        SmtpSink second = sink("127.0.0.3", "second", "-c");
        first.start();
        second.start();
        TestServer server = closing(server("a", "max_connections = 1\n").start());
        submit(server, "alice@example.test", List.of("a@example.net"), "to the first");
        first.await(1, WAIT);
        long start = System.nanoTime();
        submit(server, "alice@example.test", List.of("b@example.org"), "to the second");
        second.await(1, WAIT);
        long took = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(took < OutboundQueue.IDLE_KEEP.toMillis(), "the second domain waited " + took + " ms");
        server.awaitQueueEmpty(WAIT);
        Thread.sleep(200); // the counters follow the QUIT
        assertEquals(1, first.sessions(), "the first session ended to make room:\n" + first.log());
        assertEquals(1, first.quits(), "with QUIT:\n" + first.log());
    }

    @Test void everySessionEndsWithQuitEvenAtTheTransactionCap() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink", "-c");
        TestServer server = closing(server("a", "max_connections_per_destination = 1\nretry_intervals = [\"2s\"]\n").start());
        int n = OutboundQueue.MAX_PER_CONNECTION + 5; // past the cap: one session must end and another begin
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(submit(server, "alice@example.test", List.of("q" + i + "@example.net"), "n" + i));
        FileSpool spool = new FileSpool(server.dataDir().resolve("queue"));
        for (String id : ids) awaitState(spool, id, 1);
        sink.start();
        sink.await(n, WAIT);
        server.awaitQueueEmpty(WAIT);
        long deadline = System.nanoTime() + WAIT.toNanos();
        // the counters lag a little, and the last session ends once its keep (IDLE_KEEP) has passed
        while ((sink.sessions() < 2 || sink.quits() < sink.sessions()) && System.nanoTime() < deadline) Thread.sleep(50);
        assertTrue(sink.sessions() >= 2, "the cap ends a session: " + sink.sessions());
        assertEquals(sink.sessions(), sink.quits(), "RFC 5321 3.8: every session ends with QUIT\n" + sink.log());
    }

    @Test void aBdatMessageWithoutFinalCrlfGetsOne() throws Exception {
        SmtpSink sink = sink("127.0.0.2", "sink").start();
        TestServer server = closing(server("a", "").start());
        String content = "Subject: chunked\r\n\r\nline one\r\n.line two without CRLF";
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO client.test", 250, null);
            c.command("MAIL FROM:<alice@example.test>", 250, null);
            c.command("RCPT TO:<chunk@example.net>", 250, null);
            SmtpScript.Reply r = c.command("BDAT " + content.length() + " LAST\r\n" + content);
            assertEquals(250, r.code(), r.toString());
        }
        String msg = sink.await(1, WAIT).getFirst().message();
        server.awaitQueueEmpty(WAIT);
        assertTrue(msg.contains("\nline one\n.line two without CRLF\n"), msg);
    }

    /** SmtpScript sends one byte per char: hand it the UTF-8 octets. */
    static String utf8(String s) {
        return new String(s.getBytes(java.nio.charset.StandardCharsets.UTF_8), java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** Waits until the spool holds retry state (after a failed attempt) for {@code n} recipients of {@code id}. */
    static Map<Address, RetryState> awaitState(FileSpool spool, String id, int n) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            Map<Address, RetryState> st = spool.retryState(id);
            if (st.size() >= n && st.values().stream().allMatch(s -> s.attempts() >= 1)) return st;
            if (System.nanoTime() > deadline) throw new AssertionError("no retry state for " + n + " recipients of " + id + ": " + st);
            Thread.sleep(20);
        }
    }
}
