package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Action;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Message;
import dev.portcullis.hook.Reply;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The plugin API as the engine applies it: order, results, failures, and what plugins may change. */
@Timeout(10)
class HookSemanticsTest {
    static final String EHLO = "EHLO client.test\r\n";
    static final String MAIL = "MAIL FROM:<sender@remote.test>\r\n";
    static final String RCPT = "RCPT TO:<alice@example.test>\r\n";
    static final String DATA = "DATA\r\n";
    static final String BODY = "Subject: t\r\n\r\nbody\r\n.\r\n";
    static final String QUIT = "QUIT\r\n";

    @TempDir Path dir;

    // ---- the chain --------------------------------------------------------------------------------

    @Test
    void eachMessageOfAConnectionLogsItsOwnVerdictsNotThoseOfTheMessagesBefore() {
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) { lines.add(r.getMessage()); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("portcullis.smtp");
        log.addHandler(capture);
        try {
            SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("vouch", ctx -> HookResult.ok("known")));
            List<String> dialogue = new ArrayList<>(List.of(EHLO));
            for (int i = 0; i < 3; i++) dialogue.addAll(List.of(MAIL, RCPT, DATA, BODY));
            dialogue.add(QUIT);
            assertEquals(3, kit.send(dialogue.toArray(String[]::new)).codes().stream().filter(c -> c.equals("250 2.0.0")).count());
        } finally {
            log.removeHandler(capture);
        }
        List<String> messages = lines.stream().filter(l -> l.startsWith("message session=")).toList();
        assertEquals(3, messages.size(), String.join("\n", lines));
        for (String line : messages)
            assertEquals(1, line.split("vouch@rcpt=ok", -1).length - 1, "one recipient's verdict per message line: " + line);
        String connection = lines.stream().filter(l -> l.startsWith("connection session=")).findFirst().orElseThrow();
        assertEquals(3, connection.split("vouch@rcpt=ok", -1).length - 1, "the connection line has them all: " + connection);
    }

    @Test
    void firstNonDeclinedAnswerWins() {
        AtomicInteger askedAfter = new AtomicInteger();
        SmtpKit kit = SmtpKit.in(dir)
                .before(TestPlugins.rcpt("vouch", ctx -> ctx.recipient().localPart().equals("ghost") ? HookResult.ok("test") : HookResult.declined()))
                .after(TestPlugins.rcpt("last", ctx -> { askedAfter.incrementAndGet(); return HookResult.ok("too late"); }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<ghost@example.test>\r\n", "RCPT TO:<ghost@foreign.test>\r\n", RCPT,
                "RCPT TO:<other@foreign.test>\r\n", "RCPT TO:<nobody@example.test>\r\n", QUIT);
        // ghost is unknown to rcpt and foreign to relay, but "vouch" answered first; rcpt and relay decide the rest
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "550 5.7.1", "550 5.1.1", "221 2.0.0"),
                r.codes());
        assertEquals(0, askedAfter.get(), "a plugin after the deciding one is not asked");
    }

    @Test
    void whenEveryPluginDeclinesTheRecipientIsRefused() {
        List<String> asked = new ArrayList<>();
        SmtpKit kit = SmtpKit.in(dir).withoutConfiguredChain()
                .before(TestPlugins.rcpt("one", ctx -> { asked.add("one"); return HookResult.declined(); }))
                .before(TestPlugins.rcpt("two", ctx -> { asked.add("two"); return HookResult.declined(); }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "RCPT TO:<x@foreign.test>\r\n", QUIT);
        // nobody vouched: never relay by default
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "550 5.7.1", "221 2.0.0"), r.codes());
        assertEquals(List.of("one", "two", "one", "two"), asked, "all asked, in order");
    }

    @Test
    void denyAnswersWithThePluginsReply() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("block", ctx -> HookResult.deny(550, "5.7.1", "Error: not for you")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "221 2.0.0"), r.codes());
        assertEquals("550 5.7.1 Error: not for you", r.reply(3).lastLine());
    }

    @Test
    void denyWithDisconnectClosesAfterTheReply() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("block",
                ctx -> HookResult.denyAndDisconnect(550, "5.7.1", "Error: go away")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1"), r.codes());
        assertTrue(r.transport.unread() > 0);
    }

    @Test
    void denySoftWithDisconnectClosesToo() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.mail("block",
                ctx -> HookResult.denySoftAndDisconnect(421, "4.7.0", "Error: come back later")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "421 4.7.0"), r.codes());
    }

    @Test
    void pluginReplyTextCannotInjectASecondReply() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("evil",
                ctx -> HookResult.deny(550, "5.7.1", "no\r\n250 2.1.5 Ok")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "221 2.0.0"), r.codes());
    }

    @Test
    void throwingPluginIs451WithoutAStackTrace() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("broken", ctx -> {
            throw new IllegalStateException("secret internal detail");
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "NOOP\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "451 4.3.0", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals("451 4.3.0 Temporary failure, please try again later", r.reply(3).lastLine());
        assertFalse(r.output().contains("secret"), r.output());
        assertFalse(r.output().contains("Exception"), r.output());
        assertFalse(r.output().contains("\tat "), r.output());
    }

    @Test
    void throwingPluginInEveryAnsweringPhaseIs451() {
        RuntimeException boom = new RuntimeException("boom");
        record Case(SmtpKit kit, List<String> script, List<String> codes) {}
        List<Case> cases = List.of(
                new Case(SmtpKit.in(dir.resolve("connect")).before(TestPlugins.connect("x", c -> { throw boom; })),
                        List.of(EHLO, QUIT), List.of("451 4.3.0")),
                new Case(SmtpKit.in(dir.resolve("helo")).before(TestPlugins.helo("x", c -> { throw boom; })),
                        List.of(EHLO, QUIT), List.of("220", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("mail")).before(TestPlugins.mail("x", c -> { throw boom; })),
                        List.of(EHLO, MAIL, RCPT, QUIT), List.of("220", "250", "451 4.3.0", "503 5.5.1", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("data")).before(TestPlugins.data("x", c -> { throw boom; })),
                        List.of(EHLO, MAIL, RCPT, DATA, QUIT), List.of("220", "250", "250 2.1.0", "250 2.1.5", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("post")).before(TestPlugins.dataPost("x", c -> { throw boom; })),
                        List.of(EHLO, MAIL, RCPT, DATA, BODY, QUIT),
                        List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("queue")).before(TestPlugins.queue("x", c -> { throw boom; })),
                        List.of(EHLO, MAIL, RCPT, DATA, BODY, QUIT),
                        List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("vrfy")).before(TestPlugins.vrfy("x", c -> { throw boom; })),
                        List.of("VRFY alice\r\n", QUIT), List.of("220", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("unrec")).before(TestPlugins.unrecognized("x", c -> { throw boom; })),
                        List.of("XFOO\r\n", QUIT), List.of("220", "451 4.3.0", "221 2.0.0")),
                new Case(SmtpKit.in(dir.resolve("quit")).before(TestPlugins.quit("x", c -> { throw boom; })),
                        List.of(QUIT), List.of("220", "221 2.0.0")));
        for (Case c : cases) {
            SmtpKit.Run r = c.kit.send(c.script.toArray(String[]::new));
            assertEquals(c.codes, r.codes(), c.script.toString());
            assertEquals(List.of(), c.kit.spooled());
        }
    }

    @Test
    void throwingResetAndDisconnectHooksAreIgnored() {
        SmtpKit kit = SmtpKit.in(dir)
                .before(TestPlugins.reset("r", c -> { throw new RuntimeException("reset"); }))
                .before(TestPlugins.disconnect("d", c -> { throw new RuntimeException("disconnect"); }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RSET\r\n", MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.0.0", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
    }

    @Test
    void pluginThrowingAnErrorIsStill451() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("deep", ctx -> { throw new StackOverflowError(); }));
        SmtpKit.Run r = assertDoesNotThrow(() -> kit.send(EHLO, MAIL, RCPT, QUIT));
        assertEquals(List.of("220", "250", "250 2.1.0", "451 4.3.0", "221 2.0.0"), r.codes());
    }

    @Test
    void nullResultCountsAsDeclined() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("lazy", ctx -> null));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "221 2.0.0"), r.codes());
    }

    // ---- phases -----------------------------------------------------------------------------------

    @Test
    void connectDenyReplacesTheGreetingAndCloses() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.connect("gate", ctx -> HookResult.deny(554, "5.7.1", "Error: no service for you")));
        SmtpKit.Run r = kit.send(EHLO, QUIT);
        assertEquals(List.of("554 5.7.1 Error: no service for you"), r.lines());
        assertTrue(r.transport.unread() > 0, "the client's commands are not read");
    }

    @Test
    void connectDenySoftReplacesTheGreeting() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.connect("gate", ctx -> HookResult.denySoft(421, "4.7.0", "busy")));
        SmtpKit.Run r = kit.send(EHLO, QUIT);
        assertEquals(List.of("421 4.7.0 busy"), r.lines());
    }

    @Test
    void heloDenyLetsTheClientTryAgain() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.helo("helo",
                ctx -> ctx.helo().equals("localhost") ? HookResult.deny(550, "5.7.1", "Error: bad HELO") : HookResult.declined()));
        SmtpKit.Run r = kit.send("EHLO localhost\r\n", MAIL, EHLO, MAIL, QUIT);
        assertEquals(List.of("220", "550 5.7.1", "503 5.5.1", "250", "250 2.1.0", "221 2.0.0"), r.codes());
    }

    @Test
    void mailDenyLeavesNoTransaction() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.mail("sender",
                ctx -> ctx.sender().isNull() ? HookResult.deny(550, "5.7.1", "Error: no bounces here") : HookResult.declined()));
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<>\r\n", RCPT, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "550 5.7.1", "503 5.5.1", "250 2.1.0", "250 2.1.5", "221 2.0.0"), r.codes());
    }

    @Test
    void dataDenyMeansNo354() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.data("nodata", ctx -> HookResult.deny(554, "5.7.1", "Error: no")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, "RSET\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "554 5.7.1", "250 2.0.0", "221 2.0.0"), r.codes());
    }

    @Test
    void dataPostSeesTheMessageWithItsReceivedFieldAndCanRefuseIt() {
        AtomicReference<String> seen = new AtomicReference<>();
        AtomicReference<String> queueId = new AtomicReference<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.dataPost("scan", ctx -> {
            Message m = ctx.message();
            List<Message.Header> headers = m.headers();
            seen.set(headers.getFirst().name() + "|" + m.header("subject").orElse("?") + "|" + m.header("X-Folded").orElse("?"));
            queueId.set(ctx.tx().queueId());
            try (InputStream in = m.open()) {
                byte[] all = in.readAllBytes();
                if (all.length != m.size()) throw new AssertionError("size " + m.size() + " but " + all.length + " bytes");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return HookResult.deny(554, "5.7.1", "Error: spam");
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, "Subject: buy now\r\nX-Folded: one\r\n  two\r\n\r\nbody\r\n.\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "554 5.7.1", "221 2.0.0"), r.codes());
        assertEquals("Received|buy now|one  two", seen.get());
        assertNotNull(queueId.get());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void queueHookOkTakesTheMessageInsteadOfTheSpool() {
        List<String> taken = new ArrayList<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.queue("elsewhere", ctx -> {
            taken.add(ctx.tx().queueId());
            return HookResult.ok("stored elsewhere");
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals(taken, List.of(r.queueId()));
        assertEquals(List.of(), kit.spooled(), "not in the FileSpool");
        assertEquals(List.of(), kit.queued(), "not announced to the spool's consumer");
    }

    @Test
    void queueHookDenySoftIsNotStored() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.queue("full", ctx -> HookResult.denySoft(452, "4.3.1", "Error: queue full")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "452 4.3.1", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void quitDenyReplacesThe221() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.quit("bye", ctx -> HookResult.deny(554, "5.7.0", "Bye, spammer")));
        SmtpKit.Run r = kit.send(EHLO, QUIT, "NOOP\r\n");
        assertEquals(List.of("220", "250", "554 5.7.0"), r.codes());
    }

    @Test
    void vrfyHookCanAnswer() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.vrfy("v",
                ctx -> ctx.argument().equals("alice") ? HookResult.ok("Alice <alice@example.test>") : HookResult.declined()));
        SmtpKit.Run r = kit.send("VRFY alice\r\n", "VRFY  bob \r\n", QUIT);
        assertEquals(List.of("220", "250 2.1.5", "252 2.5.0", "221 2.0.0"), r.codes());
        assertEquals("250 2.1.5 Alice <alice@example.test>", r.reply(1).lastLine());
    }

    @Test
    void unrecognizedCommandHookCanAnswerACustomVerb() {
        List<String> args = new ArrayList<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.unrecognized("x", ctx -> {
            if (!ctx.verb().equals("XHELLO")) return HookResult.declined();
            args.add(ctx.arguments());
            return HookResult.ok("Hello to you");
        }));
        SmtpKit.Run r = kit.send("xhello there world\r\n", "XOTHER\r\n", QUIT);
        assertEquals(List.of("220", "250 2.0.0", "500 5.5.1", "221 2.0.0"), r.codes());
        assertEquals("250 2.0.0 Hello to you", r.reply(1).lastLine());
        assertEquals(List.of("there world"), args, "the verb is upper-cased, the arguments are as sent");
    }

    @Test
    void resetHookRunsOnRsetEhloAndAbandonedTransactions() {
        List<String> resets = new ArrayList<>();
        AtomicInteger disconnects = new AtomicInteger();
        SmtpKit kit = SmtpKit.in(dir)
                .before(TestPlugins.reset("r", ctx -> resets.add(ctx.tx().sender().mailbox())))
                .before(TestPlugins.disconnect("d", ctx -> disconnects.incrementAndGet()));
        kit.send(EHLO, "MAIL FROM:<one@remote.test>\r\n", "RSET\r\n", "MAIL FROM:<two@remote.test>\r\n", EHLO,
                "MAIL FROM:<three@remote.test>\r\n", RCPT, DATA, BODY, "MAIL FROM:<four@remote.test>\r\n");
        // RSET, EHLO and the end of the session abandon; a delivered message is no reset; RSET without MAIL neither
        assertEquals(List.of("one@remote.test", "two@remote.test", "four@remote.test"), resets);
        assertEquals(1, disconnects.get());
    }

    @Test
    void disconnectHookRunsAfterATimeoutToo() {
        AtomicInteger disconnects = new AtomicInteger();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.disconnect("d", ctx -> disconnects.incrementAndGet()));
        kit.run(MemoryTransport.of(EHLO).timeoutAtEnd());
        assertEquals(1, disconnects.get());
    }

    // ---- what plugins may change ------------------------------------------------------------------

    @Test
    void addHeaderCannotInjectASecondHeader() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.dataPost("tag", ctx -> {
            ctx.tx().addHeader("X-Test", "a\r\nInjected: b");
            ctx.tx().addHeader("X-Bare", "c\nInjected: d\re");
            return HookResult.declined();
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals("250 2.0.0", r.codes().get(5));
        String id = r.queueId();
        String stored = kit.contentText(id);
        String received = SmtpKit.received("client.test", "ESMTP", id, "<alice@example.test>");
        assertEquals(received + "X-Test: a Injected: b\r\nX-Bare: c Injected: d e\r\nSubject: t\r\n\r\nbody\r\n", stored);
        assertFalse(stored.contains("\nInjected"));
    }

    @Test
    void addHeaderRefusesABadFieldName() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.dataPost("tag", ctx -> {
            ctx.tx().addHeader("Bcc: x\r\nX", "y");
            return HookResult.declined();
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        // the plugin threw (IllegalArgumentException): a 451 for the message, nothing stored
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "451 4.3.0", "221 2.0.0"), r.codes());
        assertEquals(List.of(), kit.spooled());
    }

    @Test
    void headerAddedAtRcptTimeIsKeptForThatTransactionOnly() {
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.rcpt("tag", ctx -> {
            if (ctx.recipient().localPart().equals("bob")) ctx.tx().addHeader("X-For-Bob", "yes");
            return HookResult.declined();
        }));
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<bob@example.test>\r\n", DATA, BODY, MAIL, RCPT, DATA, BODY, QUIT);
        List<String> ids = r.queuedReplies();
        assertEquals(2, ids.size());
        assertTrue(kit.contentText(ids.get(0)).contains("\r\nX-For-Bob: yes\r\n"));
        assertFalse(kit.contentText(ids.get(1)).contains("X-For-Bob"));
    }

    // ---- the spool --------------------------------------------------------------------------------

    /** A spool that cannot write: fault injection, the one place a test double is right. */
    static final class FailingSpool implements Spool {
        final IOException ioFailure;
        final RuntimeException runtimeFailure;
        int calls;

        FailingSpool(IOException io, RuntimeException runtime) { this.ioFailure = io; this.runtimeFailure = runtime; }

        @Override public void store(Envelope envelope, List<ByteBuffer> content) throws IOException {
            calls++;
            if (ioFailure != null) throw ioFailure;
            throw runtimeFailure;
        }
        @Override public List<String> recover() { throw new UnsupportedOperationException(); }
        @Override public Envelope envelope(String queueId) { throw new UnsupportedOperationException(); }
        @Override public InputStream content(String queueId) { throw new UnsupportedOperationException(); }
        @Override public void markDone(String queueId, Address recipient) { throw new UnsupportedOperationException(); }
        @Override public Set<Address> done(String queueId) { throw new UnsupportedOperationException(); }
        @Override public void remove(String queueId) { throw new UnsupportedOperationException(); }
        @Override public List<String> list() { throw new UnsupportedOperationException(); }
        @Override public void hold(String queueId, String reason) { throw new UnsupportedOperationException(); }
        @Override public void release(String queueId) { throw new UnsupportedOperationException(); }
        @Override public String heldReason(String queueId) { throw new UnsupportedOperationException(); }
    }

    @Test
    void spoolFailureIs451NeverA250() {
        FailingSpool spool = new FailingSpool(new IOException("No space left on device"), null);
        SmtpKit kit = SmtpKit.in(dir).spool(spool);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "451 4.3.0", "250 2.1.0", "250 2.1.5", "221 2.0.0"), r.codes());
        assertEquals(1, spool.calls);
        assertEquals(List.of(), kit.queued());
        assertFalse(r.output().contains("space"), "the cause goes to the log, not the client");
    }

    @Test
    void spoolThrowingAnUncheckedExceptionIsNeverA250() {
        FailingSpool spool = new FailingSpool(null, new UncheckedIOException(new IOException("disk gone")));
        SmtpKit kit = SmtpKit.in(dir).spool(spool);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        List<String> codes = r.codes();
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354"), codes.subList(0, 5));
        assertTrue(codes.get(5).startsWith("4"), "a temporary failure: " + codes);
        assertFalse(codes.contains("250 2.0.0"));
        assertEquals(List.of(), kit.queued());
    }

    // ---- checks: deferred rejections and flags ----------------------------------------------------

    static final Reply LISTED = new Reply(550, "5.7.1", "Error: client listed");

    @Test
    void connectRefusalDeferredToRcptSparesPostmasterAndAbuse() {
        CheckPolicy policy = new CheckPolicy("testbl", Action.REJECT, 0, true);
        SmtpKit kit = SmtpKit.in(dir).aliases("abuse = [\"alice\"]\n")
                .before(TestPlugins.connect("testbl", ctx -> policy.fail(ctx.session(), "connect", LISTED, "listed")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, "RCPT TO:<postmaster@example.test>\r\n", "RCPT TO:<Abuse@example.test>\r\n",
                "RCPT TO:<Postmaster>\r\n", "RCPT TO:<abuse@foreign.test>\r\n", DATA, BODY, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "250 2.1.5", "250 2.1.5", "250 2.1.5", "550 5.7.1",
                "354", "250 2.0.0", "221 2.0.0"), r.codes());
        assertEquals("550 5.7.1 Error: client listed", r.reply(3).lastLine());
        // <Postmaster> is postmaster@example.test again: one envelope entry, one delivery
        assertEquals(2, kit.envelope(r.queueId()).recipients().size());
    }

    @Test
    void tempfailDeferredToRcptIs4xx() {
        CheckPolicy policy = new CheckPolicy("testbl", Action.TEMPFAIL, 0, true);
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.helo("testbl", ctx -> policy.fail(ctx.session(), "helo", LISTED, "listed")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "451 4.7.1", "221 2.0.0"), r.codes());
    }

    @Test
    void refusalDeferredFromMailBelongsToThatTransactionOnly() {
        CheckPolicy policy = new CheckPolicy("sendercheck", Action.REJECT, 0, true);
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.mail("sendercheck", ctx ->
                ctx.sender().localPart().equals("spammer") ? policy.fail(ctx.session(), "mail", LISTED, "bad sender") : HookResult.declined()));
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<spammer@remote.test>\r\n", RCPT, "RSET\r\n", MAIL, RCPT, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "250 2.0.0", "250 2.1.0", "250 2.1.5", "221 2.0.0"), r.codes());
    }

    @Test
    void flagFromRcptAndConnectBecomesHeaders() {
        CheckPolicy conn = new CheckPolicy("conncheck", Action.FLAG, 1.0, false);
        CheckPolicy rcpt = new CheckPolicy("rcptcheck", Action.FLAG, 1.5, false);
        SmtpKit kit = SmtpKit.in(dir)
                .before(TestPlugins.connect("conncheck", ctx -> conn.fail(ctx.session(), "connect", LISTED, "dynamic\r\nBcc: evil@x.test")))
                .before(TestPlugins.rcpt("rcptcheck", ctx -> rcpt.fail(ctx.session(), "rcpt", LISTED, "odd recipient")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String stored = kit.contentText(r.queueId());
        assertTrue(stored.contains("\r\nX-Portcullis-Flag: conncheck (connect): dynamic Bcc: evil@x.test\r\n"), stored);
        assertTrue(stored.contains("\r\nX-Portcullis-Flag: rcptcheck (rcpt): odd recipient\r\n"), stored);
        assertTrue(stored.contains("\r\nX-Portcullis-Score: 2.5\r\n"), stored);
        assertTrue(stored.contains("\r\nX-Portcullis-Trace: conncheck@connect=flag(+1.0)"), stored);
        assertFalse(stored.contains("\nBcc:"), "no header injection through a reason");
        assertTrue(stored.endsWith("\r\nSubject: t\r\n\r\nbody\r\n"));
    }

    @Test
    void unflaggedMessageGetsNoPortcullisHeaders() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertFalse(kit.contentText(r.queueId()).contains("X-Portcullis"));
    }

    @Test
    void flagFromMailBecomesAHeader() {
        CheckPolicy policy = new CheckPolicy("sendercheck", Action.FLAG, 2.0, false);
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.mail("sendercheck", ctx -> policy.fail(ctx.session(), "mail", LISTED, "odd sender")));
        SmtpKit.Run r = kit.send(EHLO, MAIL, RCPT, DATA, BODY, QUIT);
        assertEquals("250 2.0.0", r.codes().get(5));
        String stored = kit.contentText(r.queueId());
        assertTrue(stored.contains("\r\nX-Portcullis-Flag: sendercheck (mail): odd sender\r\n"), stored);
    }

    @Test
    void portcullisHeadersKeepToTheLineLimit() {
        CheckPolicy policy = new CheckPolicy("rcptcheck", Action.FLAG, 0.5, false);
        SmtpKit kit = SmtpKit.in(dir).aliases("")
                .before(TestPlugins.rcpt("rcptcheck", ctx -> policy.fail(ctx.session(), "rcpt", LISTED, "odd recipient")));
        List<String> script = new ArrayList<>(List.of(EHLO, MAIL));
        for (int i = 0; i < 40; i++) script.add(i % 2 == 0 ? RCPT : "RCPT TO:<bob@example.test>\r\n");
        script.addAll(List.of(DATA, BODY, QUIT));
        SmtpKit.Run r = kit.send(script.toArray(String[]::new));
        String stored = kit.contentText(r.queueId());
        for (String line : stored.split("\r\n"))
            assertTrue(line.length() <= 998, () -> "line of " + line.length() + " octets: " + line.substring(0, 60) + "...");
    }

    // ---- early talkers ----------------------------------------------------------------------------

    @Test
    void clientTalkingBeforeTheGreetingIsSeenAndItsCommandsStillAnswered() {
        AtomicReference<Boolean> talked = new AtomicReference<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.connect("earlytalker", ctx -> {
            talked.set(ctx.session().clientTalksWithin(Duration.ofSeconds(3)));
            return HookResult.declined();
        }));
        SmtpKit.Run r = kit.send(EHLO, QUIT);
        assertEquals(Boolean.TRUE, talked.get());
        assertEquals(List.of("220", "250", "221 2.0.0"), r.codes(), "what was read while waiting is not lost");
        assertEquals(List.of(Duration.ofSeconds(11)), r.transport.readTimeouts());
        assertEquals(List.of(Duration.ofSeconds(3), Duration.ZERO), r.transport.probeTimeouts(), "the probe's own bound, then none");
    }

    @Test
    void clientWaitingForTheGreetingIsQuiet() {
        AtomicReference<Boolean> talked = new AtomicReference<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.connect("earlytalker", ctx -> {
            talked.set(ctx.session().clientTalksWithin(Duration.ofSeconds(3)));
            return HookResult.declined();
        }));
        SmtpKit.Run r = kit.run(MemoryTransport.of(MemoryTransport.SILENCE, EHLO, QUIT));
        assertEquals(Boolean.FALSE, talked.get());
        assertEquals(List.of("220", "250", "221 2.0.0"), r.codes());
        assertEquals(List.of(Duration.ofSeconds(11)), r.transport.readTimeouts());
        assertEquals(List.of(Duration.ofSeconds(3), Duration.ZERO), r.transport.probeTimeouts(), "the probe's own bound, then none");
    }

    @Test
    void clientHangingUpDuringTheWaitIsNotATalker() { // it is gone: nothing to refuse, no verdict to record
        AtomicReference<Boolean> talked = new AtomicReference<>();
        SmtpKit kit = SmtpKit.in(dir).before(TestPlugins.connect("earlytalker", ctx -> {
            talked.set(ctx.session().clientTalksWithin(Duration.ofSeconds(3)));
            return HookResult.declined();
        }));
        kit.run(MemoryTransport.of());
        assertEquals(Boolean.FALSE, talked.get());
    }

    @Test
    void pluginsSeeTheSessionAsItIs() {
        List<String> seen = new ArrayList<>();
        SmtpKit kit = SmtpKit.in(dir).relay("192.0.2.0/24").before(TestPlugins.rcpt("look", ctx -> {
            var s = ctx.session();
            seen.add(s.id() + " " + s.listenerRole() + " " + s.remoteAddress().getHostAddress() + ":" + s.remotePort() + " "
                    + s.localAddress().getHostAddress() + ":" + s.localPort() + " helo=" + s.helo() + " ext=" + s.extended()
                    + " tls=" + s.tls() + " relay=" + s.relayClient() + " auth=" + s.authenticatedUser().isPresent()
                    + " at=" + s.connectedAt() + " from=" + ctx.tx().sender() + " rcpts=" + ctx.tx().recipients()
                    + " params=" + ctx.tx().mailParameters());
            return HookResult.declined();
        }));
        kit.run(MemoryTransport.of("HELO c.test\r\n", MAIL, RCPT, "RCPT TO:<bob@example.test>\r\n", QUIT).remote("192.0.2.9", 41234));
        assertEquals(List.of(
                "T1 mx 192.0.2.9:41234 127.0.0.1:25 helo=c.test ext=false tls=false relay=true auth=false at=2024-05-01T12:00:00Z"
                        + " from=<sender@remote.test> rcpts=[] params={}",
                "T1 mx 192.0.2.9:41234 127.0.0.1:25 helo=c.test ext=false tls=false relay=true auth=false at=2024-05-01T12:00:00Z"
                        + " from=<sender@remote.test> rcpts=[<alice@example.test>] params={}"), seen);
    }

    @Test
    void addressesHandedToPluginsAreParsed() {
        List<Address> seen = new ArrayList<>();
        SmtpKit kit = SmtpKit.in(dir)
                .before(TestPlugins.mail("m", ctx -> { seen.add(ctx.sender()); return HookResult.declined(); }))
                .before(TestPlugins.rcpt("r", ctx -> { seen.add(ctx.recipient()); return HookResult.declined(); }));
        kit.send(EHLO, "MAIL FROM:<@relay.test:User@Remote.TEST>\r\n", "RCPT TO:<\"a b\"@Example.Test>\r\n", QUIT);
        assertEquals(List.of(new Address("User", "remote.test", "@relay.test:User@Remote.TEST"),
                new Address("\"a b\"", "example.test", "\"a b\"@Example.Test")), seen);
    }
}
