package dev.portcullis.plugins.sender;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * At MAIL FROM the sender check's MX lookup and SPF's TXT lookup are started together (pre_mail), so the
 * command waits for the slower of the two, not for both one after the other. Shown by the DNS server:
 * with the sender domain's answers held back, both questions arrive before either is answered.
 */
@Timeout(60)
class MailLookupsOverlapTest {
    @TempDir Path dir;

    @Test void senderMxAndSpfTxtAreAskedAtTheSameTime() throws Exception {
        try (TestDns dns = new TestDns()) {
            dns.mx("remote.test", 10, "mx.remote.test").txt("remote.test", "v=spf1 ip4:127.0.0.1 -all").hold("remote.test");
            TestServer server = TestServer.in(dir)
                    .section("dns", "servers = [\"127.0.0.1:" + dns.address().getPort() + "\"]\ntimeout = \"20s\"\nretries = 0\n")
                    .toml("[[plugin]]\nname = \"sender\"\n[[plugin]]\nname = \"spf\"\n[[plugin]]\nname = \"relay\"\n[[plugin]]\nname = \"rcpt\"\n")
                    .start();
            try (server; SmtpScript c = SmtpScript.open(server.port())) {
                c.command("EHLO client.remote.test", 250, null);
                c.send("MAIL FROM:<someone@remote.test>\r\n");
                assertTrue(dns.awaitQueries(Duration.ofSeconds(15), "MX remote.test.", "TXT remote.test."),
                        "both lookups in flight while neither is answered: " + dns.queryLog());
                dns.release("remote.test");
                var reply = c.readReply();
                assertTrue(reply.is(250, "2.1.0"), reply.toString());
                c.command("RCPT TO:<alice@example.test>", 250, "2.1.5");
                c.data("Subject: overlap\r\n\r\nhello");
                String msg = server.awaitMessages("alice", 1, Duration.ofSeconds(10)).getFirst();
                assertTrue(msg.contains("Received-SPF: pass"), msg);
            }
        }
    }
}
