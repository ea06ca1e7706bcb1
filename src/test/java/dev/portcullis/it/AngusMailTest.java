package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestServer;
import dev.portcullis.testkit.TestTls;
import dev.portcullis.tls.ServerTls;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Jakarta Mail (Eclipse Angus), a real MUA/MSA-side client, against the server on loopback. */
@Timeout(60)
class AngusMailTest {

    static final Duration WAIT = Duration.ofSeconds(10);
    static final String SUBJECT = "Grüße aus Köln – ☃ test";
    static final String TEXT = "Hällo Alice and Bob,\nthis is the text part.\n";

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    Properties props() {
        Properties p = new Properties();
        p.put("mail.smtp.host", "127.0.0.1");
        p.put("mail.smtp.port", Integer.toString(server.port()));
        p.put("mail.smtp.localhost", "angus.remote.test");
        p.put("mail.smtp.connectiontimeout", "5000");
        p.put("mail.smtp.timeout", "10000");
        p.put("mail.smtp.writetimeout", "10000");
        return p;
    }

    static MimeMessage message(Session session, String... to) throws MessagingException {
        MimeMessage m = new MimeMessage(session);
        m.setFrom(new InternetAddress("sender@remote.test"));
        for (String t : to) m.addRecipient(Message.RecipientType.TO, new InternetAddress(t));
        m.setSubject(SUBJECT, "UTF-8");
        MimeBodyPart text = new MimeBodyPart();
        text.setText(TEXT, "UTF-8");
        MimeBodyPart attachment = new MimeBodyPart();
        attachment.setContent("a,b\n1,2\n", "text/csv; charset=us-ascii");
        attachment.setFileName("data.csv");
        MimeMultipart mp = new MimeMultipart();
        mp.addBodyPart(text);
        mp.addBodyPart(attachment);
        m.setContent(mp);
        m.saveChanges();
        return m;
    }

    /** Parses a delivered Maildir file back with Jakarta Mail and checks it is the message that was sent. */
    static void assertSameMessage(String delivered) throws Exception {
        MimeMessage back = new MimeMessage(Session.getInstance(new Properties()),
                new ByteArrayInputStream(delivered.getBytes(StandardCharsets.UTF_8)));
        assertEquals(SUBJECT, back.getSubject());
        Multipart mp = assertInstanceOf(Multipart.class, back.getContent());
        assertEquals(2, mp.getCount());
        assertEquals(TEXT, mp.getBodyPart(0).getContent());
        assertEquals("data.csv", mp.getBodyPart(1).getFileName());
        assertEquals("a,b\n1,2\n", new String(mp.getBodyPart(1).getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
    }

    @Test
    void multipartUtf8MessageToTwoRecipientsInOneTransaction() throws Exception {
        server = TestServer.start(dir);
        Session session = Session.getInstance(props());
        Transport.send(message(session, "alice@example.test", "bob@example.test"));

        server.awaitQueueEmpty(WAIT);
        List<String> alice = server.messages("alice"), bob = server.messages("bob");
        assertEquals(1, alice.size(), "alice gets it once");
        assertEquals(1, bob.size(), "bob gets it once");
        assertSameMessage(alice.getFirst());
        assertSameMessage(bob.getFirst());
        // one transaction, so one queue id, and no single "for" clause (two recipients)
        String idLine = alice.getFirst().lines().filter(l -> l.contains("(Portcullis) with ESMTP id ")).findFirst().orElseThrow();
        assertTrue(bob.getFirst().contains(idLine + "\n"), bob.getFirst());
        assertTrue(alice.getFirst().contains(idLine + "\n\t;\n"), alice.getFirst());
    }

    Properties startTlsWith(SSLSocketFactory factory) {
        Properties p = props();
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        p.put("mail.smtp.ssl.socketFactory", factory);
        p.put("mail.smtp.ssl.checkserveridentity", "false"); // the certificate is for mx.test, we dial 127.0.0.1
        return p;
    }

    @Test
    void startTlsWithThePinnedServerCertificate() throws Exception {
        server = TestServer.start(dir);
        X509Certificate cert = TestTls.readPem(server.certificatePem());
        assertEquals(server.server().tls().certificate(), cert, "the PEM on disk is the certificate in use");

        Session session = Session.getInstance(startTlsWith(TestTls.pinned(cert)));
        Transport.send(message(session, "alice@example.test"));

        String msg = server.awaitMessages("alice", 1, WAIT).getFirst();
        assertTrue(msg.contains("(Portcullis) with ESMTPS id "), msg);
        assertSameMessage(msg);
    }

    @Test
    void startTlsFailsWhenThePinIsAnotherCertificate() throws Exception {
        server = TestServer.start(dir);
        // a different self-signed certificate for the very same name
        X509Certificate other = ServerTls.selfSigned(dir.resolve("other-tls"), TestServer.HOSTNAME).certificate();
        Session session = Session.getInstance(startTlsWith(TestTls.pinned(other)));

        MessagingException e = assertThrows(MessagingException.class,
                () -> Transport.send(message(session, "alice@example.test")));
        assertTrue(hasCause(e, SSLHandshakeException.class), () -> "expected a handshake failure, got " + e);
        Thread.sleep(300);
        assertEquals(List.of(), server.queuedMessages());
        assertEquals(0, server.messages("alice").size());
    }

    static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause() != null ? c.getCause()
                : c instanceof MessagingException me ? me.getNextException() : null)
            if (type.isInstance(c)) return true;
        return false;
    }
}
