package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Maildirs;
import dev.portcullis.testkit.Processes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Python's poplib, a real client, over STLS and over implicit TLS, verifying our certificate. */
@Timeout(120)
class PoplibTest {
    static final String SCRIPT = """
            import poplib, ssl, sys
            mode, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
            ctx = ssl.create_default_context()
            ctx.load_verify_locations(cafile)
            ctx.check_hostname = False  # the certificate names mx.test; we dial 127.0.0.1
            if mode == "stls":
                p = poplib.POP3("127.0.0.1", port, timeout=10)
                assert "STLS" in p.capa(), p.capa()
                p.stls(context=ctx)
                assert "STLS" not in p.capa()
            else:
                p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
            print("TLS", p.sock.version())
            p.user("alice")
            p.pass_("pw")
            count, size = p.stat()
            print("STAT", count, size)
            resp, listing, _ = p.list()
            for entry in listing:
                print("LIST", entry.decode())
            resp, uidls, _ = p.uidl()
            for entry in uidls:
                print("UIDL", entry.decode())
            for i in range(1, count + 1):
                resp, lines, octets = p.retr(i)
                subject = [l.decode() for l in lines if l.startswith(b"Subject:")][0]
                dots = [l.decode() for l in lines if l.startswith(b".")]
                print("RETR", i, octets, subject, "|", " ".join(dots))
            resp, lines, octets = p.top(1, 0)
            print("TOP", len(lines), lines[-1] == b"")
            print("DELE", p.dele(1).decode())
            print("QUIT", p.quit().decode())
            """;

    @TempDir Path dir;
    Pop3Fixture f;

    @BeforeEach void start() throws Exception { f = Pop3Fixture.start(dir, null); }

    @AfterEach void stop() { f.close(); }

    String run(String mode, int port) throws Exception {
        Path script = dir.resolve("pop.py");
        Files.writeString(script, SCRIPT, StandardCharsets.UTF_8);
        var r = Processes.run(Duration.ofSeconds(30), "python3", script.toString(), mode, Integer.toString(port),
                f.server.certificatePem().toString()).assertSuccess();
        return r.output();
    }

    @Test void readsAndDeletesOverStls() throws Exception {
        f.deliver("alice", "first", "hello\r\n.a line with a leading dot");
        f.deliver("alice", "second", "world");
        String out = run("stls", f.pop3);
        assertTrue(out.contains("TLS TLSv1.3") || out.contains("TLS TLSv1.2"), out);
        assertTrue(out.contains("STAT 2 "), out);
        assertTrue(out.contains("Subject: first | .a line with a leading dot"), "poplib un-stuffs the dot: " + out);
        assertTrue(out.contains("Subject: second"), out);
        assertTrue(out.contains("TOP "), out);
        assertTrue(out.contains("QUIT +OK"), out);
        assertSizesAgree(out);
        // message 1 deleted; message 2 retrieved: moved to cur/ as seen
        assertEquals(List.of(), Maildirs.newFiles(f.maildir("alice")));
        List<Path> cur = Maildirs.list(f.maildir("alice").resolve("cur"));
        assertEquals(1, cur.size(), cur.toString());
        assertTrue(cur.getFirst().getFileName().toString().endsWith(":2,S"), cur.toString());
        assertTrue(Files.readString(cur.getFirst()).contains("Subject: second"));
    }

    @Test void readsAndDeletesOverImplicitTls() throws Exception {
        f.deliver("alice", "implicit", "over 995");
        String out = run("pop3s", f.pop3s);
        assertTrue(out.contains("STAT 1 "), out);
        assertTrue(out.contains("Subject: implicit"), out);
        assertTrue(out.contains("QUIT +OK"), out);
        assertSizesAgree(out);
        assertEquals(List.of(), Maildirs.newFiles(f.maildir("alice")));
        assertEquals(List.of(), Maildirs.list(f.maildir("alice").resolve("cur")), "deleted");
    }

    /** LIST's size of each message is the octet count poplib received for it. */
    static void assertSizesAgree(String out) {
        for (String line : out.lines().filter(l -> l.startsWith("LIST ")).toList()) {
            String[] p = line.split(" ");
            assertTrue(out.contains("RETR " + p[1] + " " + p[2] + " "), "size of message " + p[1] + " as listed and as received: " + out);
        }
    }
}
