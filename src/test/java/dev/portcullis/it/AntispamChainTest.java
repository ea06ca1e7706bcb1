package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.MutableClock;
import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole anti-spam chain on one server, driven by swaks (and a raw socket for the early talker) from
 * different loopback source addresses, each a different kind of client:
 * 127.0.0.2 listed in the DNSBL, 127.0.0.3 clean with forward-confirmed rDNS, 127.0.0.4 without a PTR,
 * 127.0.0.5 an early talker.
 */
@Timeout(120)
class AntispamChainTest {
    @TempDir static Path strictDir;
    @TempDir static Path flagDir;
    static TestDns dns;
    static TestServer strict;
    static TestServer flagging;
    static final Duration DELIVERY = Duration.ofSeconds(15);
    static final MutableClock clock = new MutableClock(java.time.Instant.now());
    static final List<String> log = new CopyOnWriteArrayList<>();
    static final Handler capture = new Handler() {
        @Override public void publish(LogRecord r) { log.add(r.getMessage()); }
        @Override public void flush() {}
        @Override public void close() {}
    };

    static String chain(String dnsblAction, String fcrdnsAction, boolean greylist) {
        return """
                [[plugin]]
                name = "limit"
                [[plugin]]
                name = "earlytalker"
                delay = "300ms"
                [[plugin]]
                name = "dnsbl"
                zones = ["bl.test"]
                action = "%s"
                [[plugin]]
                name = "fcrdns"
                action = "%s"
                [[plugin]]
                name = "helo"
                [[plugin]]
                name = "spf"
                [[plugin]]
                name = "karma"
                %s
                [[plugin]]
                name = "relay"
                [[plugin]]
                name = "rcpt"
                """.formatted(dnsblAction, fcrdnsAction, greylist ? "[[plugin]]\nname = \"greylist\"\n" : "");
    }

    @BeforeAll static void start() throws Exception {
        Logger.getLogger("portcullis.smtp").addHandler(capture);
        dns = new TestDns();
        // RFC 5782 test entries: the zone lists 127.0.0.2 (so the client 127.0.0.2 is listed) and not 127.0.0.1
        dns.a("2.0.0.127.bl.test", "127.0.0.2").txt("2.0.0.127.bl.test", "listed for testing");
        for (String ip : List.of("127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.6")) {
            String name = "host" + ip.substring(ip.lastIndexOf('.') + 1) + ".remote.test";
            dns.ptr(ip, name).a(name, ip);
        }
        dns.a("client.remote.test", "127.0.0.3").mx("remote.test", 10, "mx.remote.test");
        strict = TestServer.in(strictDir).clock(clock).dns(dns).toml(chain("reject", "reject", true)).start();
        flagging = TestServer.in(flagDir).dns(dns).toml(chain("flag", "flag", false)).start();
    }

    @AfterAll static void stop() {
        Logger.getLogger("portcullis.smtp").removeHandler(capture);
        strict.close();
        flagging.close();
        dns.close();
    }

    static Processes.Result swaks(TestServer server, String from, String to, String body) throws Exception {
        return Swaks.run(server.port(), "--local-interface", from, "--from", "sender@remote.test", "--to", to,
                "--body", body);
    }

    @Test void earlyTalkerIsDropped() throws Exception {
        try (SmtpScript c = SmtpScript.connectFrom("127.0.0.5", "127.0.0.1", strict.port(), Duration.ofSeconds(10))) {
            c.send("EHLO impatient.remote.test\r\n");
            SmtpScript.Reply r = c.readReply();
            assertTrue(r.is(554, "5.5.0"), r.toString());
            c.expectEof(Duration.ofSeconds(5));
        }
    }

    @Test void listedClientIsRefusedAtRcptButPostmasterStillReachable() throws Exception {
        var refused = swaks(strict, "127.0.0.2", "alice@example.test", "from a listed client");
        assertTrue(refused.output().contains("554 5.7.1"), refused.describe("listed client"));
        // RFC 2505: mail to postmaster gets through even from a listed client (greylisted first, then delivered)
        var postmaster = swaks(strict, "127.0.0.2", "postmaster@example.test", "listed client to postmaster");
        assertTrue(postmaster.output().contains("451 4.7.1") || postmaster.exitCode() == 0, postmaster.describe("postmaster"));
        // the decision trace of that session is in the log, in one line
        assertTrue(log.stream().anyMatch(l -> l.startsWith("connection ") && l.contains("client=127.0.0.2")
                && l.contains("dnsbl@connect=reject") && l.contains("trace=")), String.join("\n", log));
    }

    @Test void listedClientIsFlaggedInFlagMode() throws Exception {
        swaks(flagging, "127.0.0.2", "alice@example.test", "flag mode dnsbl").assertSuccess();
        String msg = flagging.awaitMessage("alice", "flag mode dnsbl", DELIVERY);
        assertTrue(msg.contains("X-Portcullis-Flag: dnsbl (connect): "), msg);
        assertTrue(msg.contains("X-Portcullis-Score: "), msg);
        assertTrue(msg.contains("X-Portcullis-Trace: ") && msg.contains("dnsbl@connect=flag"), msg);
    }

    @Test void fcrdnsFailureIsHandledPerConfig() throws Exception {
        var refused = swaks(strict, "127.0.0.4", "alice@example.test", "no ptr strict");
        assertTrue(refused.output().contains("550 5.7.25"), refused.describe("no PTR, reject mode"));
        swaks(flagging, "127.0.0.4", "alice@example.test", "no ptr flagged").assertSuccess();
        String msg = flagging.awaitMessage("alice", "no ptr flagged", DELIVERY);
        assertTrue(msg.contains("X-Portcullis-Flag: fcrdns (connect): "), msg);
    }

    @Test void greylistedThenPassesAfterTheDelay() throws Exception {
        var first = swaks(strict, "127.0.0.6", "bob@example.test", "greylist me");
        assertTrue(first.output().contains("451 4.7.1"), first.describe("first attempt"));
        var early = swaks(strict, "127.0.0.6", "bob@example.test", "greylist me");
        assertTrue(early.output().contains("451 4.7.1"), early.describe("retry before the delay"));
        clock.advance(Duration.ofMinutes(6));
        swaks(strict, "127.0.0.6", "bob@example.test", "greylist me").assertSuccess();
        String msg = strict.awaitMessage("bob", "greylist me", DELIVERY);
        assertEquals(1, strict.messages("bob").stream().filter(m -> m.contains("greylist me")).count(), msg);
    }

    @Test void relayTricksAreRefusedWhileLocalDeliveryWorks() throws Exception {
        for (String trick : List.of("alice%elsewhere.test@example.test", "elsewhere.test!alice@example.test",
                "\"alice@elsewhere.test\"@example.test", "alice@[127.0.0.1]", "someone@elsewhere.test")) {
            var r = swaks(flagging, "127.0.0.3", trick, "trick");
            assertTrue(r.output().contains("550 5.7.1"), r.describe(trick));
        }
        swaks(flagging, "127.0.0.3", "alice@example.test", "clean client delivers").assertSuccess();
        String msg = flagging.awaitMessage("alice", "clean client delivers", DELIVERY);
        assertTrue(!msg.contains("X-Portcullis-Flag"), "a clean client is not flagged:\n" + msg);
    }
}
