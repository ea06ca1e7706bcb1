package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * After a POP3 session, Dovecot (Debian's dovecot-core; .ci/run installs it) reads the same Maildir with
 * {@code doveadm fetch}, no Dovecot server running, and must see what the POP3 client saw: the same messages
 * (its GUID for a Maildir message is the unique part of the file name, our UIDL), the same sizes (its virtual
 * size counts CRLF line endings, as our LIST does), \Seen on the messages retrieved, and no deleted ones.
 *
 * Dovecot refuses to access mail as root; when the tests run as root (CI), the Maildir is copied, file names
 * unchanged, into a folder owned by nobody, and doveadm reads it as nobody.
 */
@Timeout(120)
class DovecotInteropTest {
    static final Path DOVEADM = Path.of("/usr/bin/doveadm");

    @TempDir Path dir;
    Pop3Fixture f;

    @BeforeEach void start() throws Exception { f = Pop3Fixture.start(dir, null); }

    @AfterEach void stop() { f.close(); }

    @Test void doveadmSeesTheSameMessagesSizesAndFlags() throws Exception {
        assertTrue(Files.isExecutable(DOVEADM), "doveadm missing: apt-get install dovecot-core (.ci/run does)");
        for (String s : List.of("read", "also read", "deleted", "listed only")) f.deliver("alice", s, "body of " + s + "\r\n.dot");
        Map<String, String> uidl = new LinkedHashMap<>();
        Map<String, String> size = new LinkedHashMap<>();
        try (Pop3Client c = Pop3Client.open(f.pop3)) {
            c.login("alice", "pw");
            for (String l : c.multiline("UIDL")) uidl.put(l.split(" ")[0], l.split(" ")[1]);
            for (String l : c.multiline("LIST")) size.put(l.split(" ")[0], l.split(" ")[1]);
            assertTrue(c.multiline("RETR 1").contains("Subject: read"));
            assertTrue(c.multiline("RETR 2").contains("Subject: also read"));
            assertTrue(c.multiline("TOP 3 0").contains("Subject: deleted"));
            c.command("DELE 3");
            assertTrue(c.command("QUIT").startsWith("+OK"));
        }

        List<Map<String, String>> dovecot = doveadmFetch(f.maildir("alice"));
        List<String> described = new ArrayList<>();
        for (Map<String, String> m : dovecot)
            described.add(m.get("hdr.subject") + " | " + m.get("guid") + " | " + m.get("size.virtual") + " | "
                    + m.get("flags").replace("\\Recent", "").strip()); // \Recent is doveadm's own session state, not a Maildir flag
        described.sort(null);
        List<String> expected = new ArrayList<>(List.of(
                "also read | " + uidl.get("2") + " | " + size.get("2") + " | \\Seen",
                "listed only | " + uidl.get("4") + " | " + size.get("4") + " | ",
                "read | " + uidl.get("1") + " | " + size.get("1") + " | \\Seen"));
        assertEquals(expected, described);
    }

    /** {@code doveadm fetch 'guid flags size.virtual hdr.subject' all} on the Maildir, one map per message. */
    static List<Map<String, String>> doveadmFetch(Path maildir) throws IOException {
        Path work = Files.createTempDirectory("portcullis-dovecot");
        try {
            Path md = work.resolve("Maildir");
            copyTree(maildir, md);
            Path conf = work.resolve("dovecot.conf");
            Files.writeString(conf, "# empty: every setting comes from -o\n");
            boolean root = "0".equals(run("id", "-u").strip());
            String uid = root ? "65534" : run("id", "-u").strip();
            String gid = root ? "65534" : run("id", "-g").strip();
            if (root) run("chown", "-R", uid + ":" + gid, work.toString());
            String out = run("env", "-i", "PATH=/usr/bin:/bin", "USER=portcullis-test", "HOME=" + work,
                    DOVEADM.toString(), "-c", conf.toString(),
                    "-o", "mail_location=maildir:" + md + ":INDEX=MEMORY",
                    "-o", "mail_uid=" + uid, "-o", "mail_gid=" + gid, "-o", "first_valid_uid=1", "-o", "first_valid_gid=1",
                    "fetch", "guid flags size.virtual hdr.subject", "all");
            List<Map<String, String>> messages = new ArrayList<>();
            Map<String, String> current = null;
            for (String line : out.lines().toList()) {
                int colon = line.indexOf(':');
                if (colon < 0) continue;
                String key = line.substring(0, colon);
                String value = line.substring(colon + 1).strip();
                if (key.equals("guid")) messages.add(current = new LinkedHashMap<>());
                if (current == null) throw new AssertionError("unexpected doveadm output:\n" + out);
                current.put(key, value);
            }
            return messages;
        } finally {
            try (Stream<Path> s = Files.walk(work)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static String run(String... command) throws IOException {
        return Processes.run(Duration.ofSeconds(30), command).assertSuccess().output();
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }
}
