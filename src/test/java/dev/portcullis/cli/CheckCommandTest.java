package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.Main;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The administrator's explanation tool, against a configuration whose DNS is the test server. */
@Timeout(60)
class CheckCommandTest {
    @TempDir static Path dir;
    static TestDns dns;
    static Path config;

    @BeforeAll static void setUp() throws Exception {
        dns = new TestDns();
        dns.a("2.0.0.127.bl.test", "127.0.0.2")
                .ptr("192.0.2.10", "mail.good.test").a("mail.good.test", "192.0.2.10")
                .txt("good.test", "v=spf1 ip4:192.0.2.10 -all").mx("good.test", 10, "mail.good.test");
        config = TestServer.in(dir).dns(dns)
                .toml("""
                        [[plugin]]
                        name = "dnsbl"
                        zones = ["bl.test"]
                        [[plugin]]
                        name = "fcrdns"
                        [[plugin]]
                        name = "spf"
                        [[plugin]]
                        name = "greylist"
                        [[plugin]]
                        name = "relay"
                        [[plugin]]
                        name = "rcpt"
                        """).writeConfig();
    }

    @AfterAll static void tearDown() { dns.close(); }

    record Output(int exit, String out) {}

    static Output run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.run(args);
            return new Output(exit, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
        }
    }

    @Test void explainsWhyAListedClientIsRefused() {
        Output o = run("check", "--config", config.toString(), "--ip", "127.0.0.2", "--helo", "mail.bad.test",
                "--from", "a@bad.test", "--rcpt", "alice@example.test");
        assertEquals(0, o.exit(), o.out());
        assertTrue(o.out().contains("S: 554 5.7.1"), "the refusal the client would get:\n" + o.out());
        assertTrue(o.out().matches("(?s).*dnsbl\\s+connect\\s+reject.*bl\\.test.*"), "the check and zone that refused:\n" + o.out());
        assertTrue(o.out().contains("fcrdns"), "every check's verdict is listed:\n" + o.out());
    }

    @Test void aGoodClientPassesEveryCheckAndNothingIsStored() {
        Output o = run("check", "--config", config.toString(), "--ip", "192.0.2.10", "--helo", "mail.good.test",
                "--from", "a@good.test", "--rcpt", "alice@example.test");
        assertEquals(0, o.exit(), o.out());
        assertTrue(o.out().matches("(?s).*spf\\s+mail\\s+pass.*"), o.out());
        assertTrue(o.out().matches("(?s).*fcrdns\\s+connect\\s+pass.*"), o.out());
        // a scratch store: greylisting always sees a first attempt, and the data folder gets no state
        assertTrue(o.out().contains("S: 451 4.7.1"), o.out());
        assertTrue(!dir.resolve("data").resolve("state.db").toFile().exists(), "check must not write the server's state");
    }

    @Test void spfAloneLikeSpfquery() {
        Output pass = run("check", "--config", config.toString(), "--spf", "--ip", "192.0.2.10", "--from", "a@good.test", "--helo", "mail.good.test");
        assertEquals(0, pass.exit(), pass.out());
        assertTrue(pass.out().startsWith("pass"), pass.out());
        assertTrue(pass.out().contains("Received-SPF: pass"), pass.out());
        Output fail = run("check", "--config", config.toString(), "--spf", "--ip", "192.0.2.99", "--from", "a@good.test");
        assertTrue(fail.out().startsWith("fail"), fail.out());
    }

    @Test void aBadAddressIsAClearError() {
        assertEquals(64, run("check", "--config", config.toString(), "--ip", "not-an-ip").exit());
    }
}
