package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.Swaks;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Postfix's smtp-source as a load generator: many parallel sessions, every message delivered exactly once. */
@Timeout(120)
class SmtpSourceLoadTest {

    static final String SMTP_SOURCE = "/usr/sbin/smtp-source";
    static final Pattern ID = Pattern.compile("\\(Portcullis\\) with E?SMTP id ([0-9A-Z]+)\n");

    @TempDir Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    @Test
    void parallelSessionsDeliverEveryMessageOnce() throws Exception {
        server = TestServer.start(dir);
        int messages = 200;
        // 30 parallel sessions, several messages per connection (-d), 5 kB each; smtp-source says HELO
        var r = Processes.run(Duration.ofSeconds(90), SMTP_SOURCE, "-s", "30", "-m", Integer.toString(messages), "-d",
                "-l", "5000", "-M", "source.remote.test", "-f", "load@remote.test", "-t", "alice@example.test",
                "127.0.0.1:" + server.port());
        r.assertSuccess();
        server.awaitQueueEmpty(Duration.ofSeconds(60));
        List<String> alice = server.messages("alice");
        assertEquals(messages, alice.size(), r.output());
        Map<String, Integer> ids = new HashMap<>();
        for (String m : alice) {
            Matcher id = ID.matcher(m);
            assertTrue(id.find(), m);
            ids.merge(id.group(1), 1, Integer::sum);
            assertTrue(m.startsWith("Return-Path: <load@remote.test>\nDelivered-To: alice@example.test\n"), m);
        }
        assertEquals(messages, ids.size(), "every queue id distinct, every message once");
    }

    @Test
    void aliasExpansionDeliversOneCopyPerMailbox() throws Exception {
        server = TestServer.in(dir).section("local.aliases", "team = [\"alice\", \"bob\"]\nall = [\"team\", \"alice\"]").start();
        // team -> alice, bob; all -> team, alice; plus alice directly: alice still gets one copy
        var r = Swaks.run(server.port(), "--from", "x@remote.test",
                "--to", "team@example.test,all@example.test,alice@example.test", "--body", "to the team");
        r.assertSuccess();
        server.awaitQueueEmpty(Duration.ofSeconds(10));
        assertEquals(1, server.messages("alice").size(), "one copy per mailbox within a delivery");
        assertEquals(1, server.messages("bob").size());
    }
}
