package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.accounts.SqliteAccounts;
import dev.portcullis.config.Config;
import dev.portcullis.store.SqliteStateStore;
import dev.portcullis.testkit.Maildirs;
import dev.portcullis.testkit.MutableClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The POP3 state machine in memory: a {@link MemoryConnection} plays the client, the Maildir is a temporary
 * folder, and logins go through a real {@link LoginGuard} over real (SQLite) accounts.
 */
@Timeout(60)
class Pop3SessionTest {
    static final String LOOPBACK = "127.0.0.1";
    static final String REMOTE = "192.0.2.7";

    @TempDir Path dir;
    SqliteAccounts accounts;
    SqliteStateStore store;
    MutableClock clock = new MutableClock();
    Config.Pop3 settings = Config.Pop3.DEFAULT;

    @BeforeEach void setUp() {
        accounts = SqliteAccounts.open(dir, List.of("example.test"));
        accounts.add("alice", "pw".toCharArray(), List.of("alice@example.test"));
        accounts.add("bob", "bob's secret".toCharArray(), List.of("bob@example.test"));
        store = SqliteStateStore.inMemory(clock);
    }

    @AfterEach void tearDown() {
        store.close();
        accounts.close();
    }

    Pop3Service service() {
        LoginGuard guard = new LoginGuard(accounts, store, clock, new LoginGuard.Settings(3, Duration.ofMinutes(15),
                Duration.ofMinutes(15), Duration.ZERO));
        return new Pop3Service("pop.test", settings, dir.resolve("mail"), guard);
    }

    Pop3Service service;

    MemoryConnection connect(String ip) {
        if (service == null) service = service();
        MemoryConnection c = new MemoryConnection(ip, true);
        Thread.ofVirtual().start(new Pop3Session(service, c, "T")::run);
        String greeting = c.line();
        assertTrue(greeting.startsWith("+OK pop.test"), greeting);
        return c;
    }

    MemoryConnection login(String user, String password) {
        MemoryConnection c = connect(LOOPBACK);
        assertTrue(c.command("USER " + user).startsWith("+OK"));
        String r = c.command("PASS " + password);
        assertTrue(r.startsWith("+OK"), r);
        return c;
    }

    Path maildir(String mailbox) { return dir.resolve("mail").resolve(mailbox); }

    /** A message as our delivery stores it: LF line endings, in new/. */
    Path deliver(String mailbox, String name, String content) throws IOException {
        Path md = maildir(mailbox);
        for (String sub : List.of("tmp", "new", "cur")) Files.createDirectories(md.resolve(sub));
        Path f = md.resolve(name.contains(":2,") ? "cur" : "new").resolve(name);
        Files.writeString(f, content, StandardCharsets.UTF_8);
        return f;
    }

    static List<String> names(Path folder) {
        return Maildirs.list(folder).stream().map(p -> p.getFileName().toString()).toList();
    }

    // ---- AUTHORIZATION ---------------------------------------------------------------------------------

    @Test void capaOffersPlaintextLoginOnlyWhereAllowed() {
        MemoryConnection local = connect(LOOPBACK);
        assertEquals("+OK capability list follows", local.command("CAPA"));
        List<String> caps = local.multiline();
        for (String c : List.of("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN", "STLS"))
            assertTrue(caps.contains(c), c + " in " + caps);

        MemoryConnection remote = connect(REMOTE);
        remote.command("CAPA");
        caps = remote.multiline();
        assertTrue(caps.contains("STLS"), caps.toString());
        assertFalse(caps.contains("USER"), "RFC 2595 2.1: no USER advertised in clear: " + caps);
        assertFalse(caps.stream().anyMatch(c -> c.startsWith("SASL")), caps.toString());
        assertEquals("+OK begin TLS negotiation", remote.command("STLS"));
        remote.command("CAPA"); // answered only after the session did the handshake (it runs on its own thread)
        assertEquals(1, remote.handshakes());
        caps = remote.multiline();
        assertTrue(caps.contains("USER") && caps.contains("SASL PLAIN"), caps.toString());
        assertFalse(caps.contains("STLS"), "no second STLS: " + caps);
        assertTrue(remote.command("STLS").startsWith("-ERR"), "TLS already active");
    }

    @Test void plaintextLoginIsRefusedFromRemoteClientsByDefaultAndAllowedAfterStls() {
        MemoryConnection c = connect(REMOTE);
        assertTrue(c.command("USER alice").startsWith("-ERR [AUTH] "));
        assertTrue(c.command("PASS pw").startsWith("-ERR"), "no USER accepted, so no PASS");
        String plain = Base64.getEncoder().encodeToString("\0alice\0pw".getBytes(StandardCharsets.UTF_8));
        assertTrue(c.command("AUTH PLAIN " + plain).startsWith("-ERR [AUTH] "));
        c.command("STLS");
        assertTrue(c.command("USER alice").startsWith("+OK"));
        assertTrue(c.command("PASS pw").startsWith("+OK alice has 0 messages"));
    }

    @Test void plaintextNeverRefusesLoopbackToo() {
        settings = new Config.Pop3(Config.Pop3.Plaintext.NEVER, Duration.ofMinutes(10));
        MemoryConnection c = connect(LOOPBACK);
        assertTrue(c.command("USER alice").startsWith("-ERR [AUTH] "));
        c.command("STLS");
        assertTrue(c.command("USER alice").startsWith("+OK"));
        assertTrue(c.command("PASS pw").startsWith("+OK"));
    }

    @Test void plaintextAlwaysAllowsRemoteClients() {
        settings = new Config.Pop3(Config.Pop3.Plaintext.ALWAYS, Duration.ofMinutes(10));
        MemoryConnection c = connect(REMOTE);
        assertTrue(c.command("USER alice").startsWith("+OK"));
        assertTrue(c.command("PASS pw").startsWith("+OK"));
    }

    @Test void wrongPasswordIsAuthErrorAndStartsOver() {
        MemoryConnection c = connect(LOOPBACK);
        c.command("USER alice");
        assertEquals("-ERR [AUTH] authentication failed", c.command("PASS wrong"));
        assertEquals("-ERR send USER first", c.command("PASS pw"), "a failed PASS forgets the USER");
        assertTrue(c.command("USER nobody-here").startsWith("+OK"), "USER reveals nothing about the name");
        assertEquals("-ERR [AUTH] authentication failed", c.command("PASS pw"));
        c.command("USER bob");
        assertTrue(c.command("PASS bob's secret").startsWith("+OK"), "spaces belong to the password (RFC 1939 7)");
    }

    @Test void lockedOutClientIsToldAuthAndDisconnected() {
        MemoryConnection c = connect(LOOPBACK);
        for (int i = 0; i < 3; i++) {
            c.command("USER alice");
            assertEquals("-ERR [AUTH] authentication failed", c.command("PASS guess" + i));
        }
        c.command("USER alice");
        assertEquals("-ERR [AUTH] too many failed logins, try again later", c.command("PASS pw"));
        assertNull(c.line(), "disconnected");
        // the account is locked as well: the right password fails from another address
        MemoryConnection other = connect("127.0.0.2");
        other.command("USER alice");
        assertEquals("-ERR [AUTH] authentication failed", other.command("PASS pw"));
    }

    @Test void authPlainWithInitialResponseContinuationAndCancel() {
        String good = Base64.getEncoder().encodeToString("\0alice\0pw".getBytes(StandardCharsets.UTF_8));
        MemoryConnection c = connect(LOOPBACK);
        assertEquals("+OK list of SASL mechanisms follows", c.command("AUTH"));
        assertEquals(List.of("PLAIN"), c.multiline());
        assertEquals("-ERR unsupported authentication mechanism", c.command("AUTH CRAM-MD5"));
        assertEquals("-ERR malformed base64 in the authentication response", c.command("AUTH PLAIN !!!"));
        assertEquals("-ERR malformed PLAIN response", c.command("AUTH PLAIN " + Base64.getEncoder().encodeToString("alice".getBytes())));
        String other = Base64.getEncoder().encodeToString("bob\0alice\0pw".getBytes(StandardCharsets.UTF_8));
        assertEquals("-ERR [AUTH] authentication failed", c.command("AUTH PLAIN " + other), "no acting as someone else");
        assertEquals("+ ", c.command("AUTH PLAIN"));
        assertEquals("-ERR authentication cancelled", c.command("*"));
        assertEquals("+ ", c.command("auth plain"));
        assertTrue(c.command(good).startsWith("+OK alice has"));

        MemoryConnection d = connect(LOOPBACK);
        String bob = Base64.getEncoder().encodeToString("bob\0bob\0bob's secret".getBytes(StandardCharsets.UTF_8));
        assertTrue(d.command("AUTH PLAIN " + bob).startsWith("+OK bob has"), "authzid equal to authcid is fine");
    }

    @Test void apopIsRefusedWithTheReason() {
        MemoryConnection c = connect(LOOPBACK);
        String r = c.command("APOP alice c4c9334bac560ecc979e58001b3e22fb");
        assertTrue(r.startsWith("-ERR APOP is not supported") && r.contains("hashes"), r);
    }

    @Test void stlsForgetsWhatWasSentAheadAndTheUserGivenBefore() throws Exception {
        MemoryConnection c = connect(LOOPBACK);
        assertTrue(c.command("USER alice").startsWith("+OK"));
        c.send("STLS\r\nUSER bob\r\nPASS bob's secret\r\n");
        assertEquals("+OK begin TLS negotiation", c.line());
        Thread.sleep(200);
        assertEquals("", c.unread(), "no reply to the injected commands");
        assertEquals("-ERR send USER first", c.command("PASS pw"), "neither USER counts after the handshake");
        assertTrue(c.command("USER alice").startsWith("+OK"));
        assertTrue(c.command("PASS pw").startsWith("+OK alice"));
    }

    @Test void commandsInTheWrongStateAndUnknownOnes() {
        MemoryConnection c = connect(LOOPBACK);
        assertEquals("-ERR log in first", c.command("STAT"));
        assertEquals("-ERR unknown command", c.command("HELO x"));
        c.command("USER alice");
        c.command("PASS pw");
        assertEquals("-ERR already logged in", c.command("USER bob"));
        assertEquals("-ERR already logged in", c.command("STLS"));
        assertEquals("+OK", c.command("noop"), "commands are case-insensitive");
    }

    @Test void overlongLinesGetAnErrorAndTheSessionGoesOn() {
        MemoryConnection c = connect(LOOPBACK);
        assertTrue(c.command("USER " + "a".repeat(300)).startsWith("-ERR line too long"));
        // 255 octets with CRLF is the limit (RFC 2449 4): allowed
        assertTrue(c.command("USER " + "a".repeat(248)).startsWith("+OK"));
        assertTrue(c.command("USER " + "a".repeat(249)).startsWith("-ERR line too long"));
        c.command("USER alice");
        assertTrue(c.command("PASS pw").startsWith("+OK"));
    }

    @Test void tenBadCommandsEndTheSession() {
        MemoryConnection c = connect(LOOPBACK);
        for (int i = 0; i < 9; i++) assertEquals("-ERR unknown command", c.command("EHLO spammer" + i));
        assertTrue(c.command("GET / HTTP/1.0").contains("too many bad commands"));
        assertNull(c.line());
    }

    @Test void garbageBytesGetErrorsNotExceptions() {
        MemoryConnection c = connect(LOOPBACK);
        c.send("\u0000\u00ff\uFFFD\r\n");
        assertTrue(c.line().startsWith("-ERR"));
        c.send("\r\n");
        assertTrue(c.line().startsWith("-ERR"));
        c.send("USER\r\n");
        assertEquals("-ERR syntax: USER name", c.line());
        assertEquals("-ERR send USER first", c.command("PASS"));
        c.command("USER alice");
        assertEquals("-ERR syntax: PASS password", c.command("PASS"));
    }

    @Test void quitBeforeLoginSaysGoodbye() {
        MemoryConnection c = connect(LOOPBACK);
        assertTrue(c.command("QUIT").startsWith("+OK"));
        assertNull(c.line());
    }

    @Test void silentClientIsLoggedOutWithoutUpdate() throws Exception {
        settings = new Config.Pop3(Config.Pop3.Plaintext.LOOPBACK, Duration.ofMillis(300));
        Path m = deliver("alice", "1700000000.M1P1Q1.host", "Subject: x\n\nbody\n");
        MemoryConnection c = login("alice", "pw");
        assertTrue(c.command("DELE 1").startsWith("+OK"));
        assertEquals("-ERR disconnected for inactivity", c.line());
        c.awaitClosed();
        assertTrue(Files.exists(m), "a timeout is no QUIT: nothing deleted");
    }

    // ---- TRANSACTION ------------------------------------------------------------------------------------

    @Test void statListRetrSendCrlfAndDotStuffing() {
        String stored = "Return-Path: <a@remote.test>\nSubject: dots\n\n.hidden\nplain\n..two\n.\nend";
        deliverQuietly("alice", "1700000001.M2P1Q1.host", stored);
        deliverQuietly("alice", "1700000000.M1P1Q1.host", "Subject: first\n\nhello\n");
        MemoryConnection c = login("alice", "pw");
        long firstSize = "Subject: first\r\n\r\nhello\r\n".length();
        long secondSize = "Return-Path: <a@remote.test>\r\nSubject: dots\r\n\r\n.hidden\r\nplain\r\n..two\r\n.\r\nend\r\n".length();
        assertEquals("+OK 2 " + (firstSize + secondSize), c.command("STAT"));
        assertEquals("+OK 2 messages (" + (firstSize + secondSize) + " octets)", c.command("LIST"));
        assertEquals(List.of("1 " + firstSize, "2 " + secondSize), c.multiline(), "in delivery order");
        assertEquals("+OK 2 " + secondSize, c.command("LIST 2"));
        assertEquals("+OK " + secondSize + " octets", c.command("RETR 2"));
        assertEquals(List.of("Return-Path: <a@remote.test>", "Subject: dots", "", "..hidden", "plain", "...two", "..", "end"),
                c.multiline());
        assertEquals("", c.unread(), "nothing after the terminating dot");
        assertEquals("+OK " + firstSize + " octets", c.command("RETR 1"));
        assertEquals(List.of("Subject: first", "", "hello"), c.multiline());
    }

    @Test void sizesAreTheOctetsRetrSends() {
        deliverQuietly("alice", "1.M1P1Q1.h", "A: b\r\nC: d\n\nmixed\r\nendings\n\nand a last line without newline");
        MemoryConnection c = login("alice", "pw");
        String list = c.command("LIST 1");
        long size = Long.parseLong(list.split(" ")[2]);
        c.command("RETR 1");
        StringBuilder sent = new StringBuilder();
        for (String l : c.multiline()) sent.append(l.startsWith(".") ? l.substring(1) : l).append("\r\n");
        assertEquals(size, sent.toString().getBytes(StandardCharsets.UTF_8).length, sent.toString());
    }

    @Test void topSendsTheHeaderTheBlankLineAndNBodyLines() {
        deliverQuietly("alice", "1.M1P1Q1.h", "Subject: t\nX: y\n\nline1\n.line2\nline3\n");
        MemoryConnection c = login("alice", "pw");
        assertEquals("+OK top of message follows", c.command("TOP 1 0"));
        assertEquals(List.of("Subject: t", "X: y", ""), c.multiline());
        c.command("TOP 1 2");
        assertEquals(List.of("Subject: t", "X: y", "", "line1", "..line2"), c.multiline());
        c.command("TOP 1 99");
        assertEquals(List.of("Subject: t", "X: y", "", "line1", "..line2", "line3"), c.multiline());
        assertEquals("-ERR syntax: TOP message lines", c.command("TOP 1"));
        assertEquals("-ERR syntax: TOP message lines", c.command("TOP 1 -1"));
        assertTrue(c.command("QUIT").startsWith("+OK"));
        assertEquals(List.of("1.M1P1Q1.h"), names(maildir("alice").resolve("new")), "TOP does not mark a message read");
    }

    @Test void uidlIsTheMaildirUniqueNameAndStableAcrossSessions() {
        deliverQuietly("alice", "1700000000.M1P1Q1.host", "Subject: a\n\na\n");
        deliverQuietly("alice", "1700000001.M5P1Q2.host:2,S", "Subject: b\n\nb\n");
        MemoryConnection c = login("alice", "pw");
        assertEquals("+OK unique-id listing follows", c.command("UIDL"));
        List<String> first = c.multiline();
        assertEquals(List.of("1 1700000000.M1P1Q1.host", "2 1700000001.M5P1Q2.host"), first);
        assertEquals("+OK 2 1700000001.M5P1Q2.host", c.command("UIDL 2"));
        c.command("RETR 1");
        c.multiline();
        c.command("QUIT");
        // RETR moved message 1 to cur/ with a new file name: its UIDL must not change
        MemoryConnection again = login("alice", "pw");
        again.command("UIDL");
        assertEquals(first, again.multiline());
    }

    @Test void messageNumbersAreChecked() {
        deliverQuietly("alice", "1.M1P1Q1.h", "S: 1\n\n1\n");
        MemoryConnection c = login("alice", "pw");
        assertEquals("-ERR no such message, only 1 messages in maildrop", c.command("RETR 2"));
        assertEquals("-ERR no such message, only 1 messages in maildrop", c.command("LIST 0"));
        assertEquals("-ERR syntax: a message number is expected", c.command("DELE one"));
        assertEquals("-ERR syntax: a message number is expected", c.command("RETR 99999999999999999999"));
        assertEquals("+OK message 1 deleted", c.command("DELE 1"));
        assertEquals("-ERR message 1 already deleted", c.command("RETR 1"));
        assertEquals("-ERR message 1 already deleted", c.command("DELE 1"));
        assertEquals("+OK 0 0", c.command("STAT"));
        c.command("LIST");
        assertEquals(List.of(), c.multiline());
    }

    @Test void quitDeletesMarksRetrievedSeenAndLeavesListedOnesNew() throws Exception {
        deliverQuietly("alice", "1.M1P1Q1.h", "S: deleted\n\n1\n");
        deliverQuietly("alice", "2.M1P1Q1.h", "S: read\n\n2\n");
        deliverQuietly("alice", "3.M1P1Q1.h", "S: listed only\n\n3\n");
        deliverQuietly("alice", "4.M1P1Q1.h:2,F", "S: flagged, read\n\n4\n");
        deliverQuietly("alice", "5.M1P1Q1.h:2,", "S: old, untouched\n\n5\n");
        MemoryConnection c = login("alice", "pw");
        c.command("LIST");
        c.multiline();
        c.command("RETR 1");
        c.multiline();
        c.command("DELE 1");
        c.command("RETR 2");
        c.multiline();
        c.command("RETR 4");
        c.multiline();
        assertEquals("+OK pop.test POP3 server signing off (4 messages left)", c.command("QUIT"));
        assertNull(c.line());
        assertEquals(List.of("3.M1P1Q1.h"), names(maildir("alice").resolve("new")));
        assertEquals(List.of("2.M1P1Q1.h:2,S", "4.M1P1Q1.h:2,FS", "5.M1P1Q1.h:2,"), names(maildir("alice").resolve("cur")));
    }

    @Test void rsetUndeletes() {
        deliverQuietly("alice", "1.M1P1Q1.h", "S: 1\n\n1\n");
        deliverQuietly("alice", "2.M1P1Q1.h", "S: 2\n\n2\n");
        MemoryConnection c = login("alice", "pw");
        c.command("DELE 1");
        c.command("DELE 2");
        assertEquals("+OK 0 0", c.command("STAT"));
        assertTrue(c.command("RSET").startsWith("+OK maildrop has 2 messages"));
        assertTrue(c.command("RETR 1").startsWith("+OK"));
        c.multiline();
        c.command("QUIT");
        assertEquals(List.of("2.M1P1Q1.h"), names(maildir("alice").resolve("new")));
        assertEquals(List.of("1.M1P1Q1.h:2,S"), names(maildir("alice").resolve("cur")));
    }

    @Test void droppedConnectionChangesNothing() throws Exception {
        Path one = deliver("alice", "1.M1P1Q1.h", "S: 1\n\n1\n");
        Path two = deliver("alice", "2.M1P1Q1.h", "S: 2\n\n2\n");
        MemoryConnection c = login("alice", "pw");
        c.command("DELE 1");
        c.command("RETR 2");
        c.multiline();
        c.hangUp();
        c.awaitClosed();
        assertTrue(Files.exists(one) && Files.exists(two), "no QUIT, no UPDATE: " + names(maildir("alice").resolve("new")));
        assertEquals(List.of(), names(maildir("alice").resolve("cur")));
        login("alice", "pw").command("QUIT"); // and the lock was released
    }

    @Test void oneSessionPerMailbox() {
        MemoryConnection first = login("alice", "pw");
        MemoryConnection second = connect(LOOPBACK);
        second.command("USER alice");
        assertEquals("-ERR [IN-USE] mailbox in use by another POP3 session, try again later", second.command("PASS pw"));
        assertTrue(login("bob", "bob's secret").command("STAT").startsWith("+OK"), "other mailboxes are not locked");
        first.command("QUIT");
        assertNull(first.line());
        second.command("USER alice");
        assertTrue(second.command("PASS pw").startsWith("+OK"), "free again after QUIT");
    }

    @Test void mailArrivingDuringASessionIsNotInIt() throws Exception {
        deliver("alice", "1.M1P1Q1.h", "S: 1\n\n1\n");
        MemoryConnection c = login("alice", "pw");
        deliver("alice", "2.M1P1Q1.h", "S: 2\n\n2\n");
        assertTrue(c.command("STAT").startsWith("+OK 1 "));
        c.command("UIDL");
        assertEquals(List.of("1 1.M1P1Q1.h"), c.multiline());
        c.command("DELE 1");
        c.command("QUIT");
        assertEquals(List.of("2.M1P1Q1.h"), names(maildir("alice").resolve("new")), "the late one is untouched");
    }

    @Test void messagesMovedOrRemovedByAnotherProgramMeanwhile() throws Exception {
        Path moved = deliver("alice", "1.M1P1Q1.h", "S: moved\n\nmoved\n");
        Path gone = deliver("alice", "2.M1P1Q1.h", "S: gone\n\n2\n");
        MemoryConnection c = login("alice", "pw");
        Files.move(moved, maildir("alice").resolve("cur").resolve("1.M1P1Q1.h:2,T"));
        Files.delete(gone);
        assertEquals("+OK " + "S: moved\r\n\r\nmoved\r\n".length() + " octets", c.command("RETR 1"));
        assertEquals(List.of("S: moved", "", "moved"), c.multiline());
        assertEquals("-ERR message was removed from the mailbox by another program", c.command("RETR 2"));
        c.command("DELE 2");
        assertTrue(c.command("QUIT").startsWith("+OK"));
        assertEquals(List.of("1.M1P1Q1.h:2,ST"), names(maildir("alice").resolve("cur")));
    }

    @Test void missingMailboxIsEmptyAndAFileIsAPermanentError() throws Exception {
        MemoryConnection c = login("alice", "pw");
        assertEquals("+OK 0 0", c.command("STAT"));
        assertTrue(c.command("QUIT").startsWith("+OK"));
        Files.createDirectories(dir.resolve("mail"));
        Files.writeString(maildir("bob"), "not a Maildir");
        MemoryConnection b = connect(LOOPBACK);
        b.command("USER bob");
        assertEquals("-ERR [SYS/PERM] mailbox cannot be opened; please contact the postmaster", b.command("PASS bob's secret"));
    }

    @Test void pipelinedCommandsAreAnsweredInOrder() {
        deliverQuietly("alice", "1.M1P1Q1.h", "S: 1\n\n1\n");
        MemoryConnection c = connect(LOOPBACK);
        c.send("USER alice\r\nPASS pw\r\nSTAT\r\nUIDL\r\nRETR 1\r\nQUIT\r\n");
        assertEquals("+OK send PASS", c.line());
        assertTrue(c.line().startsWith("+OK alice has 1 messages"));
        assertTrue(c.line().startsWith("+OK 1 "));
        assertEquals("+OK unique-id listing follows", c.line());
        assertEquals(List.of("1 1.M1P1Q1.h"), c.multiline());
        assertTrue(c.line().endsWith(" octets"));
        assertEquals(List.of("S: 1", "", "1"), c.multiline());
        assertTrue(c.line().startsWith("+OK pop.test POP3 server signing off"));
        assertNull(c.line());
    }

    void deliverQuietly(String mailbox, String name, String content) {
        try {
            deliver(mailbox, name, content);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
