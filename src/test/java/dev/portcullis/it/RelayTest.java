package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Never an open relay, seen from a socket: addressing tricks and foreign domains from untrusted and trusted clients. */
@Timeout(30)
class RelayTest {

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "<x%elsewhere.test@example.test>",          // percent hack
            "<elsewhere.test!x@example.test>",          // bang path
            "<@example.test:x@elsewhere.test>",         // source route
            "<@example.test,@mx.test:alice@example.test>",
            "<\"x@elsewhere.test\"@example.test>",      // quoted local part hiding an '@'
            "<alice@[127.0.0.1]>",                      // address literal
            "<x@elsewhere.test>",
            "<x@example.test.elsewhere.test>",
            "<x@EXAMPLE.TEST.>"})
    void untrustedClientCannotRelay(String rcpt) throws Exception {
        server = TestServer.start(dir);
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            SmtpScript.Reply r = c.command("RCPT TO:" + rcpt);
            // refused: 550 5.7.1 (relay), or a syntax error for what the parser does not take at all
            assertEquals(5, r.code() / 100, rcpt + " -> " + r);
            c.command("DATA", 554, "5.5.1");
        }
        assertEquals(List.of(), server.queuedMessages());
    }

    @Test
    void trustedNetworkRelaysButNotANullSender() throws Exception {
        server = TestServer.in(dir).section("relay", "networks = [\"127.0.0.0/8\"]").start();
        try (SmtpScript c = SmtpScript.open(server.port())) {
            c.command("EHLO c", 250, null);
            c.command("MAIL FROM:<>", 250, "2.1.0");
            c.command("RCPT TO:<x@elsewhere.test>", 550, "5.7.1"); // bounces are not relayed
            c.command("RCPT TO:<alice@example.test>", 250, "2.1.5"); // but delivered locally
            c.command("RSET", 250, null);
            c.command("MAIL FROM:<a@remote.test>", 250, "2.1.0");
            c.command("RCPT TO:<x@elsewhere.test>", 250, "2.1.5");
        }
    }
}
