package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** swaks, a real SMTP client, against a real server on loopback; results checked in the Maildirs. */
@Timeout(60)
class SwaksDeliveryTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final Pattern QUEUED = Pattern.compile("250 2\\.0\\.0 Ok: queued as ([0-9A-Z]+)");

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    static String queueId(Processes.Result r) {
        Matcher m = QUEUED.matcher(r.output());
        assertTrue(m.find(), () -> r.describe("no 'queued as' in swaks output"));
        return m.group(1);
    }

    @Test
    void deliversToLocalMailboxWithTraceHeaders() throws Exception {
        server = TestServer.start(dir);
        var r = Swaks.run(server.port(), "--from", "x@remote.test", "--to", "alice@example.test",
                "--header", "Subject: swaks test", "--body", "Hello from swaks\nsecond line").assertSuccess();
        String id = queueId(r);

        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.startsWith("Return-Path: <x@remote.test>\nDelivered-To: alice@example.test\nReceived: "), msg);
        // RFC 5321 4.4: from <helo> ([ip]) by <us> with ESMTP id <queue id> for <rcpt>; date
        Pattern received = Pattern.compile("Received: from client\\.remote\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\n"
                + "\tby mx\\.test \\(Portcullis\\) with ESMTP id " + id + "\n"
                + "\tfor <alice@example\\.test>;\n"
                + "\t\\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\n");
        assertTrue(received.matcher(msg).find(), () -> "Received header not as expected:\n" + msg);
        assertTrue(msg.contains("\nSubject: swaks test\n"), msg);
        assertTrue(msg.contains("\n\nHello from swaks\nsecond line\n"), msg);
        assertFalse(msg.contains("\r"), "Maildir files use LF line endings");

        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
        assertEquals(0, server.messages("bob").size());
        // mail is private: the file 600, the Maildir folders 700
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.newFiles("alice").getFirst())));
        for (String sub : new String[] {"", "tmp", "new", "cur"})
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.maildir("alice").resolve(sub))), sub);
    }

    @Test
    void unknownLocalUserIsRefusedAtRcpt() throws Exception {
        server = TestServer.start(dir);
        var r = Swaks.run(server.port(), "--from", "x@remote.test", "--to", "nobody@example.test", "--body", "x");
        assertNotEquals(0, r.exitCode(), () -> r.describe("swaks should fail"));
        assertTrue(r.output().contains("550 5.1.1"), () -> r.describe("expected 550 5.1.1"));
        assertFalse(r.output().contains("queued as"), r.output());
        assertEquals(List.of(), server.queuedMessages());
    }

    @Test
    void foreignDomainIsNotRelayed() throws Exception {
        server = TestServer.start(dir);
        var r = Swaks.run(server.port(), "--from", "x@remote.test", "--to", "someone@elsewhere.test", "--body", "x");
        assertNotEquals(0, r.exitCode(), () -> r.describe("swaks should fail"));
        assertTrue(r.output().contains("550 5.7.1"), () -> r.describe("expected 550 5.7.1"));
        assertFalse(r.output().contains("queued as"), r.output());
        assertEquals(List.of(), server.queuedMessages());
    }

    @Test
    void relayNetworkMayRelay() throws Exception {
        // 127.0.0.0/8 trusted: the foreign recipient is accepted and queued (outbound delivery keeps it)
        server = TestServer.in(dir).section("relay", "networks = [\"127.0.0.0/8\"]").start();
        var r = Swaks.run(server.port(), "--from", "x@remote.test", "--to", "someone@elsewhere.test", "--body", "x")
                .assertSuccess();
        String id = queueId(r);
        assertEquals(List.of(id), server.queuedMessages());
        // ... but an unknown local user is still refused: relay never vouches for a local domain
        var unknown = Swaks.run(server.port(), "--from", "x@remote.test", "--to", "nobody@example.test", "--body", "x");
        assertTrue(unknown.output().contains("550 5.1.1"), () -> unknown.describe("expected 550 5.1.1"));
    }

    @Test
    void pipelinedTransactionToTwoRecipients() throws Exception {
        server = TestServer.start(dir);
        var r = Swaks.run(server.port(), "--pipeline", "--from", "x@remote.test",
                "--to", "alice@example.test,bob@example.test", "--body", "pipelined").assertSuccess();
        assertTrue(r.output().contains("PIPELINING"), r.output());
        String id = queueId(r);
        server.awaitQueueEmpty(WAIT);
        List<String> alice = server.messages("alice"), bob = server.messages("bob");
        assertEquals(1, alice.size());
        assertEquals(1, bob.size());
        for (String msg : List.of(alice.getFirst(), bob.getFirst())) {
            assertTrue(msg.contains(" id " + id + "\n"), msg);
            assertTrue(msg.contains("\n\npipelined\n"), msg);
        }
        assertTrue(alice.getFirst().contains("Delivered-To: alice@example.test\n"));
        assertTrue(bob.getFirst().contains("Delivered-To: bob@example.test\n"));
    }

    @Test
    void startTlsDeliversAndReceivedSaysEsmtps() throws Exception {
        server = TestServer.start(dir);
        var r = Swaks.run(server.port(), "--tls", "--from", "x@remote.test", "--to", "alice@example.test",
                "--body", "over TLS").assertSuccess();
        assertTrue(r.output().contains("220 2.0.0"), r.output());
        assertTrue(r.output().contains("TLS started"), r.output());
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("(Portcullis) with ESMTPS id " + queueId(r) + "\n"), msg);
        assertTrue(msg.contains("\n\nover TLS\n"), msg);
    }

    @Test
    void implicitTlsListener() throws Exception {
        // RFC 8314: the submissions role does TLS before the greeting (and wants a login: RFC 6409 4.3)
        server = TestServer.in(dir).listener("127.0.0.1", 0, "submissions").section("login", "failure_delay = \"0s\"")
                .toml("[[plugin]]\nname = \"auth\"\n[[plugin]]\nname = \"relay\"\n[[plugin]]\nname = \"rcpt\"\n").start();
        try (var accounts = dev.portcullis.accounts.SqliteAccounts.open(server.dataDir(), java.util.List.of(TestServer.DOMAIN))) {
            accounts.add("bob", "secret".toCharArray(), java.util.List.of("bob@example.test"));
        }
        var r = Swaks.run(server.port(), "--tls-on-connect", "--auth", "PLAIN", "--auth-user", "bob", "--auth-password", "secret",
                "--from", "bob@example.test", "--to", "alice@example.test", "--body", "implicit TLS").assertSuccess();
        assertFalse(r.output().contains("STARTTLS\n"), () -> r.describe("STARTTLS must not be offered inside TLS"));
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains(" with ESMTPSA id " + queueId(r) + "\n"), msg);
    }

    @Test
    void dotStuffingIsUndone() throws Exception {
        server = TestServer.start(dir);
        // swaks doubles every leading dot (RFC 5321 4.5.2); the server must remove exactly one
        Swaks.run(server.port(), "--from", "x@remote.test", "--to", "alice@example.test",
                "--body", "first\n.single\n..double\n.\nlast").assertSuccess();
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("\n\nfirst\n.single\n..double\n.\nlast\n"), msg); // swaks adds a final empty line
    }

    @Test
    void nullSenderAndPostmaster() throws Exception {
        server = TestServer.start(dir);
        // a bounce (null reverse-path) to <postmaster> without a domain (RFC 5321 4.5.1)
        Swaks.run(server.port(), "--from", "<>", "--to", "postmaster", "--body", "bounce").assertSuccess();
        String msg = server.awaitMessages("postmaster", 1, WAIT).getFirst();
        assertTrue(msg.startsWith("Return-Path: <>\nDelivered-To: postmaster@example.test\n"), msg);
    }
}
