package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import dev.portcullis.testkit.TestTls;
import dev.portcullis.tls.ServerTls;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** STARTTLS (RFC 3207) over real sockets: the handshake, the state reset, and the command injection attack. */
@Timeout(30)
class StartTlsTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final Duration QUIET = Duration.ofMillis(500);

    @TempDir Path dir;
    TestServer server;

    @BeforeEach
    void start() throws Exception { server = TestServer.start(dir); }

    @AfterEach
    void stop() { server.close(); }

    /** EHLO, then "STARTTLS\r\n" + {@code injected} in one plaintext write; returns after the client handshake. */
    SmtpScript startTlsWithInjection(String injected) throws Exception {
        SmtpScript c = SmtpScript.open(server.port());
        SmtpScript.Reply ehlo = c.command("EHLO plain.remote.test", 250, null);
        assertTrue(ehlo.lines().contains("STARTTLS"), "STARTTLS offered in plaintext: " + ehlo);
        c.send("STARTTLS\r\n" + injected);
        c.expect(220, "2.0.0");
        // the server must not answer the injected command in plaintext either
        assertEquals("", c.readAvailableFor(QUIET), "no plaintext after the 220");
        SSLSocket tls = c.startTls(TestTls.trustAll());
        assertTrue(List.of("TLSv1.3", "TLSv1.2").contains(tls.getSession().getProtocol()), tls.getSession().getProtocol());
        return c;
    }

    @Test
    void injectedEhloIsDiscardedAndFirstTlsReplyAnswersOurEhlo() throws Exception {
        try (SmtpScript c = startTlsWithInjection("EHLO injected\r\n")) {
            // nothing may be waiting in the TLS stream for us either (a reply to the injected EHLO)
            assertEquals("", c.readAvailableFor(QUIET), "no reply over TLS before we send anything");
            SmtpScript.Reply ehlo = c.command("EHLO secure.remote.test", 250, null);
            assertTrue(ehlo.text().contains("secure.remote.test"), "first TLS reply answers our EHLO: " + ehlo);
            assertFalse(ehlo.toString().contains("injected"), ehlo.toString());
            assertFalse(ehlo.lines().contains("STARTTLS"), "no STARTTLS inside TLS: " + ehlo);
            c.command("STARTTLS", 503, "5.5.1");

            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            String id = c.command("Subject: tls\r\n\r\nsecret\r\n.", 250, "2.0.0").queueId();
            c.command("QUIT", 221, null);
            String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
            assertTrue(msg.contains("Received: from secure.remote.test ([127.0.0.1])\n"), "HELO name is the one given inside TLS: " + msg);
            assertTrue(msg.contains("(Portcullis) with ESMTPS id " + id + "\n"), msg);
        }
    }

    @Test
    void injectedCommandsDoNotSurviveTheHandshake() throws Exception {
        // if the injected EHLO and MAIL were kept, the MAIL sent over TLS would be "nested" (503) or,
        // worse, RCPT would be accepted straight away
        try (SmtpScript c = startTlsWithInjection("EHLO injected\r\nMAIL FROM:<evil@remote.test>\r\n")) {
            c.command("RCPT TO:<alice@example.test>", 503, "5.5.1"); // no transaction
            c.command("MAIL FROM:<a@remote.test>", 503, "5.5.1");    // RFC 3207 4.2: EHLO again first
            c.command("EHLO secure.remote.test", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("DATA", 354, null);
            c.command("Subject: x\r\n\r\nx\r\n.", 250, "2.0.0");
            c.command("QUIT", 221, null);
        }
        server.awaitQueueEmpty(WAIT);
        List<String> alice = server.messages("alice");
        assertEquals(1, alice.size());
        assertTrue(alice.getFirst().startsWith("Return-Path: <a@remote.test>\n"), alice.getFirst());
    }

    @Test
    void transactionBeforeStartTlsIsForgotten() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO plain.remote.test", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
            c.command("STARTTLS", 220, "2.0.0");
            c.startTls(TestTls.trustAll());
            c.command("EHLO secure.remote.test", 250, null);
            c.command("DATA", 503, "5.5.1"); // the plaintext MAIL/RCPT are gone
        }
    }

    @Test
    void startTlsWithArgumentsIsASyntaxError() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO plain.remote.test", 250, null);
            c.command("STARTTLS now", 501, "5.5.4");
            c.command("NOOP", 250, "2.0.0"); // still plaintext, still talking
        }
    }

    @Test
    void pythonSmtplibVerifiesTheServerCertificate() throws Exception {
        Path script = dir.resolve("send.py");
        Files.writeString(script, """
                import smtplib, ssl, sys
                port, cafile = int(sys.argv[1]), sys.argv[2]
                ctx = ssl.create_default_context()
                ctx.load_verify_locations(cafile)
                ctx.check_hostname = False  # the certificate names mx.test; we dial 127.0.0.1
                with smtplib.SMTP("127.0.0.1", port, local_hostname="py.remote.test", timeout=10) as s:
                    s.ehlo()
                    assert s.has_extn("starttls"), s.esmtp_features
                    s.starttls(context=ctx)
                    s.ehlo()
                    assert not s.has_extn("starttls"), s.esmtp_features
                    print("cipher", s.sock.version(), s.sock.cipher()[0])
                    refused = s.sendmail("py@remote.test", ["alice@example.test"],
                                         b"Subject: from python\\r\\n\\r\\nhello from smtplib\\r\\n")
                    assert refused == {}, refused
                print("OK")
                """, StandardCharsets.UTF_8);
        var r = Processes.run(Duration.ofSeconds(20), "python3", script.toString(),
                Integer.toString(server.port()), server.certificatePem().toString()).assertSuccess();
        assertTrue(r.output().contains("OK"), r.output());
        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("Received: from py.remote.test ([127.0.0.1])\n"), msg);
        assertTrue(msg.contains(" with ESMTPS id "), msg);
        assertTrue(msg.endsWith("\nSubject: from python\n\nhello from smtplib\n"), msg);
    }

    @Test
    void pythonSmtplibRefusesAnotherCertificate() throws Exception {
        // the same script with a CA file that is not the server's: verification must fail, nothing is sent
        Path other = dir.resolve("other-tls");
        ServerTls.selfSigned(other, TestServer.HOSTNAME);
        Path script = dir.resolve("send.py");
        Files.writeString(script, """
                import smtplib, ssl, sys
                ctx = ssl.create_default_context()
                ctx.load_verify_locations(sys.argv[2])
                ctx.check_hostname = False
                with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
                    try:
                        s.starttls(context=ctx)
                    except ssl.SSLCertVerificationError as e:
                        print("VERIFY FAILED", e.verify_message)
                        sys.exit(3)
                print("UNEXPECTED SUCCESS")
                """, StandardCharsets.UTF_8);
        var r = Processes.run(Duration.ofSeconds(20), "python3", script.toString(),
                Integer.toString(server.port()), other.resolve("selfsigned-cert.pem").toString());
        assertEquals(3, r.exitCode(), () -> r.describe("expected a certificate verification failure"));
        assertEquals(List.of(), server.queuedMessages());
    }

    @Test
    void silentClientAfterStartTlsIsDroppedByTheTimeout() throws Exception {
        server.close();
        server = TestServer.in(dir.resolve("t")).section("smtp", "command_timeout = \"1s\"").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("STARTTLS", 220, "2.0.0");
            // no ClientHello: the handshake must not wait forever. The server may send a TLS alert record
            // as it gives up (0x15 ...), but no SMTP reply: the session is no longer plaintext SMTP.
            String rest;
            try {
                rest = c.readAvailableFor(Duration.ofSeconds(5));
            } catch (SocketException reset) {
                rest = "";
            }
            assertTrue(rest.isEmpty() || rest.charAt(0) == 0x15, "only a TLS alert, if anything: " + rest);
            assertTrue(c.isEof(), "connection closed within 5s of a 1s timeout");
        }
    }

    @Test
    void garbageInsteadOfClientHelloClosesTheConnection() throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("STARTTLS", 220, "2.0.0");
            c.send("EHLO not-tls\r\nMAIL FROM:<a@remote.test>\r\n");
            String rest;
            try {
                rest = c.readAvailableFor(Duration.ofSeconds(3));
            } catch (SocketException reset) {
                rest = "";
            }
            assertFalse(rest.contains("250"), "no SMTP reply to plaintext after STARTTLS: " + rest);
        }
        // and the server goes on serving
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
        }
    }
}
