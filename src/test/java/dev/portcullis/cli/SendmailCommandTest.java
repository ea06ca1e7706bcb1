package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.Main;
import dev.portcullis.hook.Address;
import dev.portcullis.pickup.MaildropFiles;
import dev.portcullis.testkit.TestServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** `portcullis sendmail` in-process: standard input in, a maildrop file out, sysexits codes. */
@Timeout(30)
class SendmailCommandTest {
    @TempDir Path dir;
    Path config;
    Path maildrop;
    static final String USER = System.getProperty("user.name");

    @BeforeEach void setUp() throws Exception {
        config = TestServer.in(dir).section("smtp", "max_message_size = 4096").writeConfig();
        Files.createDirectories(dir.resolve("data"));   // the server's first start made it
        maildrop = dir.resolve("data").resolve("maildrop");
    }

    record Run(int exit, String out, String err) {}

    Run sendmail(String stdin, String... args) {
        InputStream savedIn = System.in;
        PrintStream savedOut = System.out, savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            String[] all = Stream.concat(Stream.of("sendmail", "--config", config.toString()), Stream.of(args))
                    .toArray(String[]::new);
            int exit = Main.run(all);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setIn(savedIn);
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    /** The one file in maildrop/new, parsed. */
    MaildropFiles.Dropped dropped() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(maildrop.resolve("new"))) {
            files = s.toList();
        }
        assertEquals(1, files.size(), "one file in maildrop/new: " + files);
        return MaildropFiles.read(files.getFirst());
    }

    boolean nothingDropped() throws Exception {
        if (!Files.isDirectory(maildrop.resolve("new"))) return true;
        try (Stream<Path> s = Files.list(maildrop.resolve("new"))) {
            return s.findAny().isEmpty();
        }
    }

    @Test void dashTTakesTheRecipientFromToAndAddsTheMissingHeaders() throws Exception {
        // printf 'To: u@local\n\nhi\n' | portcullis sendmail -t
        Run r = sendmail("To: u@local\n\nhi\n", "-t");
        assertEquals(0, r.exit(), r.err());
        assertEquals("", r.out(), "nothing on standard output");
        assertEquals("", r.err());
        var d = dropped();
        assertEquals(List.of(Address.of("u", "local")), d.recipients());
        assertEquals(Address.of(USER, TestServer.HOSTNAME), d.sender(), "default sender: user@hostname");
        assertEquals(USER, d.identity());
        String m = d.text();
        assertTrue(m.startsWith("To: u@local\r\n"), m);
        assertTrue(m.contains("\r\nFrom: " + USER + "@" + TestServer.HOSTNAME + "\r\n"), m);
        assertTrue(m.matches("(?s).*\r\nDate: \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\r\n.*"), m);
        assertTrue(m.matches("(?s).*\r\nMessage-ID: <[0-9A-Z]+\\.[0-9a-f]+@mx\\.test>\r\n.*"), m);
        assertTrue(m.endsWith("\r\n\r\nhi\r\n"), m);
        assertFalse(m.replace("\r\n", "").contains("\n"), "CRLF line ends only: " + m);
        assertFalse(m.replace("\r\n", "").contains("\r"), "CRLF line ends only: " + m);
        assertTrue(Files.exists(maildrop.resolve("tmp")));
        try (Stream<Path> s = Files.list(maildrop.resolve("tmp"))) {
            assertEquals(0, s.count(), "nothing left in tmp/");
        }
    }

    @Test void withoutDashIALoneDotEndsTheMessage() throws Exception {
        Run r = sendmail("Subject: dots\n\nbefore\n.\nafter\n", "bob@example.test");
        assertEquals(0, r.exit(), r.err());
        String m = dropped().text();
        assertTrue(m.endsWith("\r\n\r\nbefore\r\n"), m);
        assertFalse(m.contains("after"), m);
    }

    @Test void withDashIOrDashOiOnlyEndOfInputEnds() throws Exception {
        for (String flag : List.of("-i", "-oi")) {
            Run r = sendmail("Subject: dots\n\nbefore\n.\nafter\n", flag, "bob@example.test");
            assertEquals(0, r.exit(), flag + ": " + r.err());
            String m = dropped().text();
            assertTrue(m.endsWith("\r\n\r\nbefore\r\n.\r\nafter\r\n"), flag + ": " + m);
            try (Stream<Path> s = Files.list(maildrop.resolve("new"))) {
                for (Path p : s.toList()) Files.delete(p);
            }
        }
    }

    @Test void dashFAndDashFSetTheSenderAndTheFromHeader() throws Exception {
        Run r = sendmail("Subject: x\n\nbody\n", "-f", "bounces@example.org", "-F", "Cron Daemon", "-oi", "bob@example.test");
        assertEquals(0, r.exit(), r.err());
        var d = dropped();
        assertEquals(Address.of("bounces", "example.org"), d.sender());
        assertTrue(d.text().contains("\r\nFrom: Cron Daemon <bounces@example.org>\r\n"), d.text());
        assertEquals(USER, d.identity(), "the claimed identity is still the Unix user");
    }

    @Test void attachedValuesAndIgnoredFlagsAsScriptsWriteThem() throws Exception {
        // PHP's default sendmail_path is "sendmail -t -i"; Debian's cron uses "-FCronDaemon -i -B8BITMIME -oem".
        Run r = sendmail("To: root\nSubject: cron\n\nout\n", "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-odi", "-v",
                "-fcron@example.org", "-t", "-bm", "-U", "-N", "never", "-R", "hdrs", "-V", "envid", "-oQ/var/spool");
        assertEquals(0, r.exit(), r.err());
        var d = dropped();
        assertEquals(List.of(Address.of("root", TestServer.HOSTNAME)), d.recipients(), "a bare name is qualified");
        assertTrue(d.text().contains("\r\nFrom: CronDaemon <cron@example.org>\r\n"), d.text());
        Files.delete(Files.list(maildrop.resolve("new")).findFirst().orElseThrow());

        // cronie: sendmail -FCronDaemon -i -odi -oem -oi -t -f root
        r = sendmail("To: root\nSubject: cron\n\nout\n.\nmore\n", "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root");
        assertEquals(0, r.exit(), r.err());
        d = dropped();
        assertEquals(Address.of("root", TestServer.HOSTNAME), d.sender());
        assertTrue(d.text().endsWith("\r\nout\r\n.\r\nmore\r\n"), d.text());
        assertEquals("ti", d.flags());
    }

    @Test void aFromHeaderIsKeptAndFullNamesAreQuotedOrEncoded() throws Exception {
        assertEquals(0, sendmail("From: Me <me@example.org>\n\nx\n", "-F", "Ignored", "bob@example.test").exit());
        String m = dropped().text();
        assertTrue(m.startsWith("From: Me <me@example.org>\r\n"), m);
        assertFalse(m.contains("Ignored"), m);
        Files.delete(Files.list(maildrop.resolve("new")).findFirst().orElseThrow());

        assertEquals(0, sendmail("\nx\n", "-F", "Doe, John", "bob@example.test").exit());
        assertTrue(dropped().text().contains("From: \"Doe, John\" <"), dropped().text());
        Files.delete(Files.list(maildrop.resolve("new")).findFirst().orElseThrow());

        assertEquals(0, sendmail("\nx\n", "-F", "Zoë", "bob@example.test").exit());
        assertTrue(dropped().text().contains("From: =?UTF-8?B?Wm/Dqw==?= <"), dropped().text());
    }

    @Test void bccIsARecipientButLeavesTheMessage() throws Exception {
        Run r = sendmail("To: Alice <alice@example.test>\nCc: \"Smith, Bob\" <bob@example.test>, carol@example.test\n"
                + "Bcc: secret@example.org,\n  other@example.org\nSubject: hi\n\nbody\n", "-t", "extra@example.net");
        assertEquals(0, r.exit(), r.err());
        var d = dropped();
        assertEquals(List.of(Address.of("alice", "example.test"), Address.of("bob", "example.test"),
                Address.of("carol", "example.test"), Address.of("secret", "example.org"), Address.of("other", "example.org"),
                Address.of("extra", "example.net")), d.recipients());
        assertFalse(d.text().contains("Bcc"), d.text());
        assertFalse(d.text().contains("secret"), d.text());
        assertFalse(d.text().contains("other@"), "the folded continuation goes with it: " + d.text());
        assertTrue(d.text().contains("\r\nSubject: hi\r\n"), d.text());
    }

    @Test void recipientsAfterDoubleDashMayLookLikeOptions() throws Exception {
        Run r = sendmail("x\n", "-i", "--", "-odd-but-valid@example.test", "root, Bob <bob@example.test>");
        assertEquals(0, r.exit(), r.err());
        assertEquals(List.of(Address.of("-odd-but-valid", "example.test"), Address.of("root", TestServer.HOSTNAME),
                Address.of("bob", "example.test")), dropped().recipients());
    }

    @Test void noRecipientIsAUsageError() throws Exception {
        Run r = sendmail("Subject: x\n\nbody\n");
        assertEquals(64, r.exit());
        assertTrue(r.err().contains("no recipients"), r.err());
        Run t = sendmail("To: undisclosed-recipients:;\nSubject: x\n\nbody\n", "-t");
        assertEquals(64, t.exit());
        assertTrue(t.err().contains("no recipients"), t.err());
        assertEquals("", t.out());
        assertTrue(nothingDropped());
    }

    @Test void unknownOptionsAndModesAreUsageErrors() throws Exception {
        assertEquals(64, sendmail("x\n", "-q").exit());
        Run bs = sendmail("x\n", "-bs");
        assertEquals(64, bs.exit());
        assertTrue(bs.err().contains("-bs is not supported"), bs.err());
        assertEquals(64, sendmail("x\n", "-t", "not an address").exit());
        assertTrue(nothingDropped());
    }

    @Test void anUnwritableMaildropIsATemporaryFailure() throws Exception {
        Files.writeString(maildrop, "not a folder");
        Run r = sendmail("Subject: x\n\nbody\n", "bob@example.test");
        assertEquals(75, r.exit());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(maildrop.toString()), r.err());
        assertTrue(r.err().contains("not a folder"), r.err());
    }

    @Test void aMissingDataFolderIsATemporaryFailureAndCreatesNothing() throws Exception {
        Files.delete(dir.resolve("data"));
        Run r = sendmail("Subject: x\n\nbody\n", "bob@example.test");
        assertEquals(75, r.exit());
        assertTrue(r.err().contains("data folder does not exist"), r.err());
        assertFalse(Files.exists(dir.resolve("data")));
    }

    @Test void aMessageOverTheConfiguredSizeIsRefused() throws Exception {
        Run r = sendmail("Subject: big\n\n" + "x".repeat(100) + "\n" + ("y".repeat(99) + "\n").repeat(50), "bob@example.test");
        assertEquals(65, r.exit());
        assertTrue(r.err().contains("max_message_size"), r.err());
        assertTrue(nothingDropped());
    }

    @Test void aBrokenConfigurationIsExit78() throws Exception {
        Files.writeString(config, "[server]\nno_such_key = 1\n");
        Run r = sendmail("x\n", "bob@example.test");
        assertEquals(78, r.exit());
        assertTrue(r.err().contains("configuration error"), r.err());
    }

    @Test void theCreatedFoldersAreWorldWritableAndSticky() throws Exception {
        assertEquals(0, sendmail("x\n", "bob@example.test").exit());
        if (!Files.getFileStore(maildrop).supportsFileAttributeView("unix")) return;
        for (String sub : List.of("tmp", "new"))
            assertEquals(01733, ((Integer) Files.getAttribute(maildrop.resolve(sub), "unix:mode")) & 07777, sub);
    }
}
