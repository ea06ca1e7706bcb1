package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.hook.Address;
import dev.portcullis.queue.FileSpool;
import dev.portcullis.queue.RetryState;
import dev.portcullis.testkit.TestDns;
import dev.portcullis.testkit.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Null-client mode: everything goes to a smarthost on its submission port, with STARTTLS and AUTH. The
 * smarthost is a second Portcullis — a real SMTP server doing real STARTTLS (RFC 3207) and AUTH (RFC 4954),
 * which refuses AUTH before TLS and MAIL before AUTH on that port — with an account that owns the sender.
 */
@Timeout(90)
class SmarthostTest {
    static final Duration WAIT = Duration.ofSeconds(20);
    static final String PASSWORD = "relay secret \u00e9";

    @TempDir Path dir;
    TestDns dns;
    TestServer smarthost;
    TestServer client;

    @BeforeEach void startSmarthost() throws Exception {
        dns = new TestDns();
        smarthost = TestServer.in(dir.resolve("smarthost"))
                .section("server", "hostname = \"relay.test\"\ndata_dir = \"data\"\n")
                .section("local", "domains = [\"smarthost.test\"]\nusers = [\"dave\"]\n")
                .section("login", "failure_delay = \"0s\"\n")
                .listener("127.0.0.1", 0, "submission")
                .toml("""
                        [[plugin]]
                        name = "auth"
                        [[plugin]]
                        name = "relay"
                        [[plugin]]
                        name = "rcpt"
                        """).start();
        try (var accounts = SqliteAccounts.open(smarthost.dataDir(), List.of("smarthost.test"))) {
            accounts.add("carol", PASSWORD.toCharArray(), List.of("carol@smarthost.test"));
        }
    }

    @AfterEach void stop() {
        if (client != null) client.close();
        if (smarthost != null) smarthost.close();
        dns.close();
    }

    TestServer client(String outboundExtra) throws Exception {
        Path clientDir = dir.resolve("client");
        Files.createDirectories(clientDir);
        Files.writeString(clientDir.resolve("smarthost.secret"), PASSWORD + "\n");
        return TestServer.in(clientDir).dns(dns)
                .section("relay", "networks = [\"127.0.0.0/8\"]")
                .section("outbound", """
                        mode = "smarthost"
                        smarthost = "127.0.0.1:%d"
                        tls = "required"
                        auth_user = "carol"
                        auth_password_file = "smarthost.secret"
                        retry_intervals = ["1s"]
                        """.formatted(smarthost.port()) + outboundExtra).start();
    }

    @Test void deliversThroughTheSmarthostWithStarttlsAndAuth() throws Exception {
        client = client("tls_verify = \"none\"\n");
        String id = OutboundDeliveryTest.submit(client, "carol@smarthost.test", List.of("dave@smarthost.test"), "via the smarthost");
        String msg = smarthost.awaitMessages("dave", 1, WAIT).getFirst();
        client.awaitQueueEmpty(WAIT);
        assertTrue(msg.contains("(authenticated as carol)"), msg);
        assertTrue(msg.contains("by relay.test (Portcullis) with ESMTPSA"), "TLS and AUTH, RFC 3848:\n" + msg);
        assertTrue(msg.contains("by mx.test (Portcullis) with ESMTP id " + id), "the client's own trace is kept:\n" + msg);
        assertTrue(msg.contains("Received: from mx.test"), "EHLO with [server] hostname:\n" + msg);
        assertTrue(msg.contains("\nvia the smarthost\n"), msg);
    }

    @Test void mailWaitsWhileTheSmarthostIsUnreachableAndFlowsWhenItAnswers() throws Exception {
        int port = smarthost.port();
        smarthost.close();
        client = client("tls_verify = \"none\"\n");
        String id = OutboundDeliveryTest.submit(client, "carol@smarthost.test", List.of("dave@smarthost.test"), "patience");
        FileSpool spool = new FileSpool(client.dataDir().resolve("queue"));
        Map<Address, RetryState> st = OutboundDeliveryTest.awaitState(spool, id, 1);
        assertTrue(st.values().iterator().next().lastError().contains("[127.0.0.1]:" + port), st.toString());
        // The smarthost comes back on the same port.
        smarthost = TestServer.in(dir.resolve("smarthost"))
                .section("server", "hostname = \"relay.test\"\ndata_dir = \"data\"\n")
                .section("local", "domains = [\"smarthost.test\"]\nusers = [\"dave\"]\n")
                .listener("127.0.0.1", port, "submission")
                .toml("[[plugin]]\nname = \"auth\"\n[[plugin]]\nname = \"relay\"\n[[plugin]]\nname = \"rcpt\"\n").start();
        assertTrue(smarthost.awaitMessages("dave", 1, WAIT).getFirst().contains("patience"));
        client.awaitQueueEmpty(WAIT);
    }

    @Test void aWrongPasswordDefersInsteadOfBouncing() throws Exception {
        try (var accounts = SqliteAccounts.open(smarthost.dataDir(), List.of("smarthost.test"))) {
            accounts.setPassword("carol", "another password".toCharArray());
        }
        client = client("tls_verify = \"none\"\n");
        String id = OutboundDeliveryTest.submit(client, "carol@smarthost.test", List.of("dave@smarthost.test"), "no entry");
        FileSpool spool = new FileSpool(client.dataDir().resolve("queue"));
        RetryState st = OutboundDeliveryTest.awaitState(spool, id, 1).values().iterator().next();
        assertTrue(st.lastError().contains("AUTH refused"), st.toString());
        assertTrue(st.lastError().contains("535"), st.toString());
        assertEquals(List.of(id), client.queuedMessages());
        assertTrue(client.messages("alice").isEmpty(), "no bounce for our own configuration error");
    }

    @Test void certificateVerificationAgainstASelfSignedSmarthostDefers() throws Exception {
        client = client("tls_verify = \"verify\"\n");
        String id = OutboundDeliveryTest.submit(client, "carol@smarthost.test", List.of("dave@smarthost.test"), "verified?");
        FileSpool spool = new FileSpool(client.dataDir().resolve("queue"));
        RetryState st = OutboundDeliveryTest.awaitState(spool, id, 1).values().iterator().next();
        assertTrue(st.lastError().contains("TLS"), st.toString());
        assertTrue(st.status().startsWith("4."), st.toString());
        assertTrue(smarthost.messages("dave").isEmpty());
    }
}
