package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import dev.portcullis.testkit.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Programs on the host submit through {@code portcullis sendmail}, run as a separate process, as cron would. */
@Timeout(120)
class SendmailDeliveryTest {
    @TempDir Path dir;
    TestServer server;

    @AfterEach void stop() { if (server != null) server.close(); }

    static Processes.Result sendmail(Path config, String stdin, String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                "dev.portcullis.Main", "sendmail", "--config", config.toString()));
        cmd.addAll(List.of(args));
        return Processes.run(Duration.ofSeconds(60), stdin.getBytes(StandardCharsets.UTF_8), cmd);
    }

    @Test void printfToSendmailDashTDelivers() throws Exception {
        server = TestServer.start(dir);
        // the issue's own example: printf 'To: u@local\n\nhi\n' | portcullis sendmail -t
        var r = sendmail(server.configFile(), "To: alice@example.test\n\nhi from cron\n", "-t");
        assertEquals(0, r.exitCode(), r.describe("sendmail -t"));
        String msg = server.awaitMessage("alice", "hi from cron", Duration.ofSeconds(15));
        assertTrue(msg.contains("Received: from local user "), msg);
        assertTrue(msg.contains("\nFrom: ") && msg.contains("\nMessage-ID: ") && msg.contains("\nDate: "), msg);
    }

    @Test void localProgramsCountAgainstTheirUnixUser() throws Exception {
        server = TestServer.in(dir).toml("""
                [[plugin]]
                name = "outbound"
                messages_per_hour = 1
                messages_per_hour_hard = 2
                [[plugin]]
                name = "relay"
                [[plugin]]
                name = "rcpt"
                """).start();
        for (int i = 1; i <= 4; i++)
            assertEquals(0, sendmail(server.configFile(), "Subject: n" + i + "\n\nnumber " + i + "\n", "bob@example.test").exitCode());
        server.awaitMessage("bob", "number 2", Duration.ofSeconds(15));
        String notice = server.awaitMessage("postmaster", "outbound limit exceeded", Duration.ofSeconds(15));
        assertTrue(notice.contains("Local user "), notice);
        Path held = server.dataDir().resolve("maildrop").resolve("held");
        long kept = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (kept < 2 && System.nanoTime() < deadline) {
            try (var files = Files.list(held)) { kept = files.count(); }
            Thread.sleep(50);
        }
        assertEquals(2, kept, "the messages past the hard limit are kept aside, not delivered");
        assertTrue(server.messages("bob").stream().noneMatch(m -> m.contains("number 3") || m.contains("number 4")));
    }
}
