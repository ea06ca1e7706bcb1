package dev.portcullis.pop3;

import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import dev.portcullis.testkit.TestTls;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLSocketFactory;

/**
 * A real server for the POP3 integration tests: listeners mx, pop3 (STLS) and pop3s (implicit TLS) on ephemeral
 * loopback ports, accounts alice ("pw") and bob ("bob pw"), no login delay. Mail arrives the real way, over SMTP
 * on the mx listener, into the Maildirs POP3 reads.
 */
final class Pop3Fixture implements AutoCloseable {
    static final Duration WAIT = Duration.ofSeconds(15);

    final TestServer server;
    final int mx, pop3, pop3s;

    private Pop3Fixture(TestServer server) {
        this.server = server;
        this.mx = server.ports().get(0);
        this.pop3 = server.ports().get(1);
        this.pop3s = server.ports().get(2);
    }

    /** @param pop3Section the body of [pop3], or null for the defaults */
    static Pop3Fixture start(Path dir, String pop3Section) throws IOException {
        TestServer.Builder b = TestServer.in(dir)
                .listener("127.0.0.1", 0, "mx").listener("127.0.0.1", 0, "pop3").listener("127.0.0.1", 0, "pop3s")
                .section("login", "failure_delay = \"0s\"\n");
        if (pop3Section != null) b.section("pop3", pop3Section);
        TestServer server = b.start();
        try (var accounts = SqliteAccounts.open(server.dataDir(), List.of(TestServer.DOMAIN))) {
            accounts.add("alice", "pw".toCharArray(), List.of("alice@example.test"));
            accounts.add("bob", "bob pw".toCharArray(), List.of("bob@example.test"));
        }
        return new Pop3Fixture(server);
    }

    /** Delivers a message to {@code mailbox}@example.test over SMTP and waits until it is in the Maildir. */
    void deliver(String mailbox, String subject, String body) throws IOException {
        try (SmtpScript c = SmtpScript.open(mx)) {
            c.command("EHLO client.remote.test", 250, null);
            c.command("MAIL FROM:<sender@remote.test>", 250, null);
            c.command("RCPT TO:<" + mailbox + "@" + TestServer.DOMAIN + ">", 250, null);
            String text = "From: sender@remote.test\r\nSubject: " + subject + "\r\n\r\n" + body;
            SmtpScript.Reply r = c.data(text.replace("\r\n.", "\r\n..")); // SMTP's dot-stuffing (RFC 5321 4.5.2)
            if (r.code() != 250) throw new AssertionError("message refused: " + r);
            c.quit();
        }
        server.awaitMessage(mailbox, "Subject: " + subject + "\n", WAIT);
    }

    SSLSocketFactory pinned() throws IOException {
        return TestTls.pinned(TestTls.readPem(server.certificatePem()));
    }

    Path maildir(String mailbox) { return server.maildir(mailbox); }

    @Override public void close() { server.close(); }
}
