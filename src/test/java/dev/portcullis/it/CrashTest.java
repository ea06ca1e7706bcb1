package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Maildirs;
import dev.portcullis.testkit.ServerProcess;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * DESIGN "250 means the message is on disk": the server runs in its own JVM, clients stream messages at
 * it, and it is killed with SIGKILL (no shutdown hook, nothing flushed) while messages are in flight, three
 * times. After the last restart, every message that got its 250 must be in the Maildir; duplicates are
 * allowed, losses are not, and no Maildir message may be partial.
 *
 * (SIGKILL kills the process, not the machine: the page cache survives, so this checks the order of
 * write / rename / reply and the recovery, not whether fsync is really called.)
 */
@Timeout(240)
class CrashTest {

    static final int TOTAL = 200;
    static final int CLIENTS = 4;
    static final int PER_CONNECTION = 5;
    static final int[] KILL_AT = {50, 100, 150}; // accepted messages before each kill
    static final Duration START = Duration.ofSeconds(60);
    static final Pattern RECEIVED_ID = Pattern.compile("\\(Portcullis\\) with ESMTP id ([0-9A-Z]+)\n");
    static final Pattern SEQ = Pattern.compile("\nX-Seq: (\\d+)\n");

    @TempDir Path dir;
    ServerProcess server;
    final List<Thread> clients = new ArrayList<>();

    /** queue id -> sequence number of every message that got its 250. */
    final Map<String, Integer> accepted = new ConcurrentHashMap<>();
    final AtomicInteger nextSeq = new AtomicInteger();
    /** A reply a client did not expect (anything but a dead connection): a server bug, not a crash effect. */
    final List<Throwable> clientFailures = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void cleanUp() throws InterruptedException {
        if (server != null) server.close();
        for (Thread t : clients) {
            t.interrupt();
            t.join(5000);
        }
    }

    @Test
    void noAcceptedMessageIsLostWhenTheServerIsKilled() throws Exception {
        int port = ServerProcess.freePort();
        Path config = TestServer.in(dir).listener("127.0.0.1", port, "mx").writeConfig();
        Path data = dir.resolve("data");
        StringBuilder report = new StringBuilder();

        for (int round = 0; round <= KILL_AT.length; round++) {
            long t0 = System.nanoTime();
            server = ServerProcess.start(config, port, dir.resolve("server-" + round + ".log"), START);
            report.append("start ").append(round).append(": ").append((System.nanoTime() - t0) / 1_000_000).append(" ms; ");
            // recovery ran before the listener opened: nothing half-written may be left in the spool
            List<Path> leftovers = Maildirs.list(data.resolve("queue").resolve("tmp"));
            assertEquals(List.of(), leftovers, "queue/tmp after restart " + round);

            startClients(port);
            if (round < KILL_AT.length) {
                awaitAccepted(KILL_AT[round]);
                server.kill();
                report.append("round ").append(round).append(": killed with ").append(accepted.size())
                        .append(" accepted, ").append(nextSeq.get()).append(" started\n");
                joinClients();
            } else {
                joinClients();
                report.append("final round: ").append(accepted.size()).append(" accepted of ").append(nextSeq.get()).append('\n');
            }
        }
        assertEquals(List.of(), clientFailures, "unexpected replies; " + report);
        assertTrue(accepted.size() >= KILL_AT[KILL_AT.length - 1], "clients made progress: " + report);

        // the last server delivers what the earlier ones left queued
        awaitDrained(data, Duration.ofSeconds(60));
        List<Path> files = Maildirs.newFiles(data.resolve("mail").resolve("alice"));
        Map<String, Integer> delivered = new HashMap<>();  // queue id -> copies
        for (Path f : files) {
            String msg = Maildirs.read(List.of(f)).getFirst();
            Matcher id = RECEIVED_ID.matcher(msg), seq = SEQ.matcher(msg);
            assertTrue(id.find() && seq.find(), "unreadable Maildir file " + f.getFileName() + ":\n" + msg);
            assertTrue(msg.endsWith("\nEND " + seq.group(1) + "\n"), "partial message in new/: " + f.getFileName() + ":\n" + msg);
            Integer expectedSeq = accepted.get(id.group(1));
            if (expectedSeq != null)
                assertEquals(expectedSeq, Integer.valueOf(seq.group(1)), "queue id " + id.group(1) + " carries another message");
            delivered.merge(id.group(1), 1, Integer::sum);
        }
        TreeMap<Integer, String> lost = new TreeMap<>();
        accepted.forEach((id, seq) -> { if (!delivered.containsKey(id)) lost.put(seq, id); });
        long duplicates = delivered.values().stream().filter(n -> n > 1).count();
        report.append("delivered ").append(files.size()).append(" files, ").append(delivered.size())
                .append(" distinct ids, ").append(duplicates).append(" duplicated; maildir tmp leftovers: ")
                .append(Maildirs.list(data.resolve("mail").resolve("alice").resolve("tmp")).size());
        System.out.println("CrashTest: " + report);
        assertEquals(new TreeMap<>(), lost, "accepted (250) but lost after SIGKILL; " + report);
    }

    @Test
    void sigtermStopsTheServerAndQueuedMailSurvives() throws Exception {
        int port = ServerProcess.freePort();
        Path config = TestServer.in(dir).listener("127.0.0.1", port, "mx").writeConfig();
        server = ServerProcess.start(config, port, dir.resolve("server-term.log"), START);
        try (SmtpScript c = SmtpScript.open(port)) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: before stop\r\n\r\nX-Seq\r\n.", 250, "2.0.0");
        }
        int exit = server.terminate(Duration.ofSeconds(15));
        assertTrue(exit == 0 || exit == 143, "exit code after SIGTERM: " + exit + "\n" + server.log());
        // what the server logs while it stops reaches the log (JUL's own shutdown hook used to drop it):
        // the spool's summary is the last line the stop writes
        assertTrue(server.log().contains("spool: 1 message(s) committed in 1 fsync(s)"),
                () -> "the stop's last line is missing:\n" + server.log());
        // the port is free again: a new server can take it at once
        server = ServerProcess.start(config, port, dir.resolve("server-term-2.log"), START);
        awaitDrained(dir.resolve("data"), Duration.ofSeconds(30));
        assertEquals(1, Maildirs.newFiles(dir.resolve("data").resolve("mail").resolve("alice")).size());
    }

    void startClients(int port) {
        clients.clear();
        for (int i = 0; i < CLIENTS; i++)
            clients.add(Thread.ofPlatform().name("crash-client-" + i).daemon(true).start(() -> client(port)));
    }

    /** Sends messages until they run out or the server dies under it. */
    void client(int port) {
        try {
            while (nextSeq.get() < TOTAL && !Thread.currentThread().isInterrupted()) {
                try (SmtpScript c = SmtpScript.open(port)) {
                    c.command("EHLO crash.remote.test", 250, null);
                    for (int i = 0; i < PER_CONNECTION; i++) {
                        int seq = nextSeq.getAndIncrement();
                        if (seq >= TOTAL) break;
                        c.command("MAIL FROM:<load@remote.test>", 250, "2.1.0");
                        c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
                        c.command("DATA", 354, null);
                        String body = "Subject: crash " + seq + "\r\nX-Seq: " + seq + "\r\n\r\n"
                                + ("line of message " + seq + "\r\n").repeat(20 + seq % 50) + "END " + seq + "\r\n.";
                        SmtpScript.Reply r = c.command(body, 250, "2.0.0");
                        accepted.put(r.queueId(), seq);
                    }
                    c.command("QUIT", 221, null);
                }
            }
        } catch (IOException e) {
            // the server was killed: this client's round is over
        } catch (RuntimeException | AssertionError e) {
            clientFailures.add(e);
        }
    }

    void awaitAccepted(int n) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (accepted.size() < n) {
            if (clients.stream().noneMatch(Thread::isAlive) || System.nanoTime() > deadline)
                throw new AssertionError("only " + accepted.size() + " accepted, waiting for " + n + "; server log:\n" + server.log());
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    void joinClients() throws InterruptedException {
        for (Thread t : clients) {
            t.join(30_000);
            if (t.isAlive()) throw new AssertionError(t.getName() + " stuck; server log:\n" + server.log());
        }
    }

    /** Waits until the spool is empty and alice's Maildir has stopped growing. */
    void awaitDrained(Path data, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Path messages = data.resolve("queue").resolve("messages");
        int lastCount = -1;
        long stableSince = System.nanoTime();
        while (true) {
            TreeSet<String> queued = new TreeSet<>();
            for (Path p : Maildirs.list(messages)) queued.add(p.getFileName().toString());
            int count = Maildirs.newFiles(data.resolve("mail").resolve("alice")).size();
            if (count != lastCount) {
                lastCount = count;
                stableSince = System.nanoTime();
            }
            if (queued.isEmpty() && System.nanoTime() - stableSince > 500_000_000L) return;
            if (System.nanoTime() > deadline)
                throw new AssertionError("queue not drained after " + timeout + ": " + queued + "\nserver log:\n" + server.log());
            Thread.sleep(50);
        }
    }
}
