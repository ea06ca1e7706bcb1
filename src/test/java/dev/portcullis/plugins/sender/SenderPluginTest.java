package dev.portcullis.plugins.sender;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class SenderPluginTest {
    @TempDir static Path dir;
    static TestDns dns;
    static TestServer server;

    @BeforeAll static void start() throws Exception {
        dns = new TestDns();
        dns.mx("withmx.test", 10, "mx.withmx.test").a("onlya.test", "192.0.2.1").aaaa("onlyaaaa.test", "2001:db8::1")
                .mx("nullmx.test", 0, ".").txt("txtonly.test", "nothing to receive mail with").timeout("slow.test");
        server = TestServer.in(dir)
                .dns(dns)
                .toml("[[plugin]]\nname = \"sender\"\n[[plugin]]\nname = \"relay\"\n[[plugin]]\nname = \"rcpt\"\n")
                .start();
    }

    @AfterAll static void stop() {
        server.close();
        dns.close();
    }

    private static SmtpScript.Reply mailFrom(String sender) throws Exception {
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO client.remote.test");
            return c.command("MAIL FROM:<" + sender + ">");
        }
    }

    @Test void domainsThatCanReceiveMailAreAccepted() throws Exception {
        assertTrue(mailFrom("a@withmx.test").is(250, "2.1.0"));
        assertTrue(mailFrom("a@onlya.test").is(250, "2.1.0"));
        assertTrue(mailFrom("a@onlyaaaa.test").is(250, "2.1.0"));
        assertTrue(mailFrom("").is(250, "2.1.0"), "the null sender is not checked");
    }

    @Test void domainsThatCannotAreRefused() throws Exception {
        assertTrue(mailFrom("a@nosuchdomain.test").is(550, "5.1.8"));
        assertTrue(mailFrom("a@txtonly.test").is(550, "5.1.8"));
        assertTrue(mailFrom("a@nullmx.test").is(550, "5.1.8"), "RFC 7505 null MX");
    }

    @Test void dnsTroubleIsTemporary() throws Exception {
        assertTrue(mailFrom("a@slow.test").is(451, "4.1.8"));
    }
}
