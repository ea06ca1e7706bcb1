package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Protocol details over a real socket that the other tests do not touch: CHUNKING, HELO, IPv6, errors. */
@Timeout(30)
class ProtocolTest {

    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    @Test
    void bdatChunksPipelinedInOneWrite() throws Exception {
        server = TestServer.start(dir);
        String part1 = "Subject: chunked\r\n\r\nfirst ", part2 = "second\r\n";
        try (SmtpScript c = SmtpScript.open(server.port())) {
            assertTrue(c.command("EHLO c", 250, null).lines().contains("CHUNKING"));
            // RFC 3030: BDAT may be pipelined, the chunk follows its command immediately, no dot-stuffing
            c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
                    + "BDAT " + part1.length() + "\r\n" + part1 + "BDAT " + part2.length() + " LAST\r\n" + part2 + "NOOP\r\n");
            c.expect(250, "2.1.0");
            c.expect(250, "2.1.5");
            c.expect(250, "2.0.0");
            String id = c.expect(250, "2.0.0").queueId();
            c.expect(250, "2.0.0"); // NOOP: the stream is still in step
            assertTrue(id != null);
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.endsWith("\nSubject: chunked\n\nfirst second\n"), msg);
    }

    @Test
    void bdatContentWithALineStartingWithADotIsNotUnstuffed() throws Exception {
        server = TestServer.start(dir);
        String content = "Subject: dots\r\n\r\n..two dots\r\n.\r\n";
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.send("BDAT " + content.length() + " LAST\r\n" + content);
            c.expect(250, "2.0.0");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.endsWith("\n\n..two dots\n.\n"), msg);
    }

    @Test
    void bdatWithBareLineFeedIsRefusedButTheSessionGoesOn() throws Exception {
        server = TestServer.start(dir);
        String bad = "Subject: bare\n\nbare LF\n";
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.send("BDAT " + bad.length() + " LAST\r\n" + bad);
            c.expect(554, "5.6.0");
            // the chunk's length framed it, so the stream is in step and a new transaction works
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            String good = "Subject: good\r\n\r\ngood\r\n";
            c.send("BDAT " + good.length() + " LAST\r\n" + good);
            c.expect(250, "2.0.0");
        }
        server.awaitQueueEmpty(WAIT);
        List<String> alice = server.messages("alice");
        assertEquals(1, alice.size());
        assertTrue(alice.getFirst().endsWith("\n\ngood\n"), alice.getFirst());
    }

    @Test
    void bdatWithoutTransactionIsReadAndRefused() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            // the chunk looks like commands; it must be swallowed as data, not executed
            String chunk = "MAIL FROM:<evil@remote.test>\r\n";
            c.send("BDAT " + chunk.length() + " LAST\r\n" + chunk + "NOOP\r\n");
            c.expect(503, "5.5.1");
            c.expect(250, "2.0.0");
            c.command("RCPT TO:<alice@example.test>", 503, "5.5.1");
        }
    }

    @Test
    void dataAfterBdatIsRefused() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.send("BDAT 3\r\nabc");
            c.expect(250, "2.0.0");
            c.command("DATA", 503, "5.5.1");
        }
    }

    @Test
    void heloClientGetsPlainSmtpAndNoExtensions() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            SmtpScript.Reply helo = c.command("HELO old.remote.test", 250, null);
            assertEquals(1, helo.lines().size(), helo.toString());
            c.command("MAIL FROM:<a@remote.test> SIZE=10", 555, "5.5.4"); // parameters need EHLO
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: old\r\n\r\nold\r\n.", 250, "2.0.0");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("Received: from old.remote.test ([127.0.0.1])\n\tby mx.test (Portcullis) with SMTP id "), msg);
    }

    @Test
    void ipv6LoopbackListener() throws Exception {
        server = TestServer.in(dir).listener("::1", 0, "mx").start();
        try (SmtpScript c = SmtpScript.open("::1", server.port())) {
            SmtpScript.Reply ehlo = c.command("EHLO v6.remote.test", 250, null);
            assertTrue(ehlo.text().contains("[0:0:0:0:0:0:0:1]") || ehlo.text().contains("[::1]"), ehlo.toString());
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: v6\r\n\r\nv6\r\n.", 250, "2.0.0");
        }
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        // RFC 5321 4.1.3: an IPv6 address literal is tagged "IPv6:"
        assertTrue(msg.contains("Received: from v6.remote.test ([IPv6:"), msg);
    }

    @Test
    void commandsAreCaseInsensitiveAndEmptyLinesAreErrors() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("ehlo c", 250, null);
            c.command("mail from:<a@remote.test>", 250, "2.1.0");
            c.command("rcpt to:<ALICE@EXAMPLE.TEST>", 250, "2.1.5");
            c.command("", 500, "5.5.1");
            c.command("rset", 250, "2.0.0");
            c.command("vrfy alice", 252, "2.5.0");
            c.command("help", 214, null);
            c.command("quit", 221, "2.0.0");
            c.expectEof(Duration.ofSeconds(3));
        }
    }

    @Test
    void nulInCommandIsRefused() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>\0", 500, "5.5.2");
            c.command("NOOP", 250, "2.0.0");
        }
    }

    @Test
    void manyConnectionsAtOnce() throws Exception {
        // one virtual thread per connection: 300 idle sessions cost little, and all get their greeting
        server = TestServer.start(dir);
        List<SmtpScript> open = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) open.add(SmtpScript.open(server.port()));
            for (SmtpScript c : open) c.command("NOOP", 250, "2.0.0");
        } finally {
            for (SmtpScript c : open) c.close();
        }
        assertFalse(open.isEmpty());
    }

    @Test
    void sameMailboxTwiceInOneTransactionGetsOneCopy() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("RCPT TO:<ALICE@Example.Test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: twice\r\n\r\ntwice\r\n.", 250, "2.0.0");
        }
        server.awaitQueueEmpty(WAIT);
        assertEquals(1, server.messages("alice").size());
    }

    @Test
    void sizeParameterOverLimitIsRefusedEvenWhenItDoesNotFitALong() throws Exception {
        // RFC 1870: size-value ::= 1*20DIGIT, so 20 digits are valid syntax and simply too big: 552, not 501
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test> SIZE=99999999999", 552, "5.3.4");
            c.command("MAIL FROM:<a@remote.test> SIZE=99999999999999999999", 552, "5.3.4");
        }
    }

    @Test
    void sizeParameterMustBeDigits() throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test> SIZE=-1", 501, "5.5.4");
            c.command("MAIL FROM:<a@remote.test> SIZE=+1", 501, "5.5.4");
            c.command("MAIL FROM:<a@remote.test> SIZE=12x", 501, "5.5.4");
        }
    }

    @Test
    void smtpUtf8SenderFromPythonSmtplib() throws Exception {
        server = TestServer.start(dir);
        Path script = dir.resolve("utf8.py");
        Files.writeString(script, """
                import smtplib, sys
                with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.remote.test", timeout=10) as s:
                    s.ehlo()
                    assert s.has_extn("smtputf8"), s.esmtp_features
                    # without SMTPUTF8 a non-ASCII address is refused (RFC 6531 3.4)
                    s.send("MAIL FROM:<jörg@bücher.test>\\r\\n".encode())
                    code, text = s.getreply()
                    print("without:", code, text.decode())
                    assert code == 553, code
                    s.rset()
                    s.sendmail("jörg@bücher.test", ["alice@example.test"],
                               "Subject: Grüße\\r\\n\\r\\nSchöne Grüße\\r\\n".encode(), mail_options=["SMTPUTF8"])
                print("OK")
                """, StandardCharsets.UTF_8);
        var r = Processes.run(Duration.ofSeconds(20), "python3", script.toString(), Integer.toString(server.port()))
                .assertSuccess();
        assertTrue(r.output().contains("without: 553 5.6.7"), r.output());
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.startsWith("Return-Path: <jörg@bücher.test>\n"), msg);
        assertTrue(msg.contains("(Portcullis) with UTF8SMTP id "), msg); // RFC 6531 7.5
        assertTrue(msg.endsWith("\nSubject: Grüße\n\nSchöne Grüße\n"), msg);
    }
}
