package dev.portcullis.plugins.limit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Per-client limits through a real server, each client on its own loopback address. */
@Timeout(60)
class LimitServerTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestServer server;
    final List<SmtpScript> clients = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (SmtpScript c : clients) c.close();
        if (server != null) server.close();
    }

    TestServer start(String settings) throws Exception {
        return start(settings, null);
    }

    TestServer start(String settings, String relayNetworks) throws Exception {
        var b = TestServer.in(dir);
        if (relayNetworks != null) b.section("relay", "networks = [\"" + relayNetworks + "\"]");
        return b.toml("[[plugin]]\nname = \"limit\"\n" + settings + "\n"
                + "[[plugin]]\nname = \"rcpt\"\n[[plugin]]\nname = \"relay\"\n").start();
    }

    SmtpScript connect(String from) throws IOException {
        SmtpScript c = SmtpScript.connectFrom(from, server.port());
        clients.add(c);
        return c;
    }

    /** {@code n} connections from {@code from} all greeted with 220, retried while earlier ones are still being uncounted. */
    List<SmtpScript> awaitGreeted(String from, int n) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            List<SmtpScript> batch = new ArrayList<>();
            boolean all = true;
            for (int i = 0; i < n && all; i++) {
                SmtpScript c = connect(from);
                batch.add(c);
                all = greeted(c);
            }
            if (all) return batch;
            for (SmtpScript c : batch) c.close();
            if (System.nanoTime() > deadline) throw new AssertionError(n + " connections from " + from + " never all greeted");
            Thread.sleep(20);
        }
    }

    /** True when the server's first reply is a 220 greeting; false for a refusal, or when it just closes or resets. */
    static boolean greeted(SmtpScript c) throws IOException {
        try {
            SmtpScript.Reply r = c.readReplyOrNull();
            return r != null && r.code() == 220;
        } catch (SocketException reset) {
            return false;
        }
    }

    static void sendMessage(SmtpScript c, String subject) throws IOException {
        c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
        c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
        c.command("DATA", 354, null);
        c.command("Subject: " + subject + "\r\n\r\nhello\r\n.", 250, "2.0.0");
    }

    @Test
    void eleventhConcurrentConnectionIsRefusedWhileAnotherAddressIsServed() throws Exception {
        server = start(""); // defaults: 10 concurrent, 60 a minute
        List<SmtpScript> ten = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            SmtpScript c = connect("127.0.0.8");
            c.expect(220, null);
            ten.add(c);
        }
        SmtpScript eleventh = connect("127.0.0.8");
        eleventh.expect(421, "4.7.0");
        assertTrue(eleventh.closedWithin(WAIT));

        SmtpScript other = connect("127.0.0.9");
        other.expect(220, null);
        other.command("EHLO other.example", 250, null);

        ten.getFirst().command("QUIT", 221, null); // one leaves: its place is free again
        awaitGreeted("127.0.0.8", 1);
        ten.get(1).command("EHLO still.example", 250, null); // the others were never disturbed
    }

    @Test
    void killedConnectionsLeaveNoCount() throws Exception {
        server = start("max_connections_per_minute_per_ip = 0");
        List<SmtpScript> twenty = new ArrayList<>();
        int greeted = 0;
        for (int i = 0; i < 20; i++) {
            SmtpScript c = connect("127.0.0.11");
            if (greeted(c)) greeted++;
            twenty.add(c);
        }
        assertEquals(10, greeted);
        for (SmtpScript c : twenty) c.kill(); // TCP resets, no QUIT

        awaitGreeted("127.0.0.11", 10); // all ten places came back...
        SmtpScript over = connect("127.0.0.11");
        over.expect(421, "4.7.0"); // ...and not one more
    }

    @Test
    void connectionsPerMinute() throws Exception {
        server = start("max_connections_per_minute_per_ip = 3");
        for (int i = 0; i < 3; i++) {
            SmtpScript c = connect("127.0.0.12");
            c.expect(220, null);
            c.command("QUIT", 221, null);
        }
        SmtpScript fourth = connect("127.0.0.12");
        fourth.expect(421, "4.7.0");
        assertTrue(fourth.closedWithin(WAIT));
        connect("127.0.0.13").expect(220, null);
    }

    @Test
    void messagesPerConnection() throws Exception {
        server = start("max_messages_per_connection = 2");
        SmtpScript c = connect("127.0.0.14");
        c.expect(220, null);
        c.command("EHLO busy.example", 250, null);
        sendMessage(c, "one");
        sendMessage(c, "two");
        c.command("MAIL FROM:<a@remote.test>", 451, "4.7.1");
        c.command("NOOP", 250, null);
        c.command("QUIT", 221, null);

        SmtpScript again = connect("127.0.0.14");
        again.expect(220, null);
        again.command("EHLO busy.example", 250, null);
        sendMessage(again, "three");
        server.awaitMessages("alice", 3, WAIT);
    }

    @Test
    void recipientsPerConnection() throws Exception {
        server = start("max_recipients_per_connection = 3");
        SmtpScript c = connect("127.0.0.15");
        c.expect(220, null);
        c.command("EHLO busy.example", 250, null);
        c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
        c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
        c.command("RCPT TO:<bob@example.test>", 250, "2.1.5");
        c.command("DATA", 354, null);
        c.command("Subject: two\r\n\r\nhello\r\n.", 250, "2.0.0");
        c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
        c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
        c.command("RCPT TO:<bob@example.test>", 451, "4.7.1");
    }

    @Test
    void relayNetworksAreExempt() throws Exception {
        server = start("max_connections_per_ip = 2", "127.0.0.16/32");
        for (int i = 0; i < 5; i++) connect("127.0.0.16").expect(220, null);
        connect("127.0.0.17").expect(220, null);
        connect("127.0.0.17").expect(220, null);
        connect("127.0.0.17").expect(421, "4.7.0");
    }
}
