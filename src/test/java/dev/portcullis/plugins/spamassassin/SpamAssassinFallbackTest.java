package dev.portcullis.plugins.spamassassin;

import static dev.portcullis.plugins.spamassassin.SpamAssassinPluginTest.DELIVERY;
import static dev.portcullis.plugins.spamassassin.SpamAssassinPluginTest.ham;
import static dev.portcullis.plugins.spamassassin.SpamAssassinPluginTest.message;
import static dev.portcullis.plugins.spamassassin.SpamAssassinPluginTest.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.SmtpScript;
import dev.portcullis.testkit.TestServer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What happens when spamd is not there: a real spamd scans, is stopped, and the configured fallback applies
 * (accept marked "Unknown", or 451 4.7.1); a scanner that accepts the connection and never answers is given
 * up after {@code timeout}.
 */
@Timeout(120)
class SpamAssassinFallbackTest {
    @TempDir Path dir;

    @Test void spamdStoppedMeansTheConfiguredFallback() throws Exception {
        try (Spamd spamd = Spamd.start(dir.resolve("spamd"));
             TestServer accepting = server("accepting", spamd.port, "accept");
             TestServer deferring = server("deferring", spamd.port, "tempfail")) {
            assertEquals(250, send(accepting, "127.0.0.2", message("while up", ham("up-marker"))).code());
            assertTrue(accepting.awaitMessage("alice", "up-marker", DELIVERY).contains("X-Spam-Status: No, score="));
            assertEquals(250, send(deferring, "127.0.0.2", message("while up", ham("up-marker-2"))).code());

            spamd.stop();

            SmtpScript.Reply accepted = send(accepting, "127.0.0.2", message("while down", ham("down-marker")));
            assertEquals(250, accepted.code(), accepted.toString());
            String m = accepting.awaitMessage("alice", "down-marker", DELIVERY);
            assertTrue(m.contains("X-Spam-Status: Unknown (scanner unavailable)\n"), m);
            assertFalse(m.contains("X-Spam-Score"), m);

            SmtpScript.Reply deferred = send(deferring, "127.0.0.2", message("while down", ham("down-marker-2")));
            assertTrue(deferred.is(451, "4.7.1"), deferred.toString());
            assertFalse(SpamAssassinPluginTest.queued(deferring, "down-marker-2"), deferring.queuedMessages().toString());
        }
    }

    @Test void aScannerThatNeverAnswersIsGivenUpAfterTheTimeout() throws Exception {
        List<Socket> held = new CopyOnWriteArrayList<>();
        ServerSocket silent = new ServerSocket();
        Thread acceptor = null;
        try {
            silent.bind(new InetSocketAddress("127.0.0.1", 0));
            acceptor = Thread.ofVirtual().start(() -> { // takes connections, reads nothing, says nothing
                try {
                    while (true) held.add(silent.accept());
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
            try (TestServer accepting = TestServer.in(dir.resolve("hung")).toml("""
                    [[plugin]]
                    name = "spamassassin"
                    address = "127.0.0.1:%d"
                    timeout = "1s"
                    [[plugin]]
                    name = "rcpt"
                    """.formatted(silent.getLocalPort())).start()) {
                SmtpScript.Reply r = send(accepting, "127.0.0.3", message("hung scanner", ham("hung-marker")));
                assertEquals(250, r.code(), r.toString());
                String m = accepting.awaitMessage("alice", "hung-marker", DELIVERY);
                assertTrue(m.contains("X-Spam-Status: Unknown (scanner unavailable)\n"), m);
            }
        } finally {
            silent.close();
            if (acceptor != null) acceptor.join();
            for (Socket s : held) s.close();
        }
    }

    private TestServer server(String name, int port, String onError) throws Exception {
        return TestServer.in(dir.resolve(name)).toml("""
                [[plugin]]
                name = "spamassassin"
                address = "127.0.0.1:%d"
                on_error = "%s"
                [[plugin]]
                name = "rcpt"
                """.formatted(port, onError)).start();
    }
}
