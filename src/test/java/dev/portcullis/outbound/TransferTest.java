package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import dev.portcullis.testkit.TestDns;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The SMTP client against scripted peers: strict reply parsing (a malformed reply is a temporary failure,
 * never a crash), HELO fallback, PIPELINING, SIZE, per-recipient outcomes, the TLS policy and AUTH only
 * inside TLS. The happy paths against real servers are in OutboundDeliveryTest and SmarthostTest.
 */
@Timeout(30)
class TransferTest {
    static final Address FROM = Address.of("alice", "example.test");
    static final Address X = Address.of("x", "example.net"), Y = Address.of("y", "example.net"), Z = Address.of("z", "example.net");
    TestDns dns;
    ScriptedPeer peer;

    @BeforeEach void start() throws Exception { dns = new TestDns(); }

    @AfterEach void stop() throws Exception {
        if (peer != null) peer.close();
        dns.close();
    }

    Transfer transfer(String extra) {
        var s = RoutesTest.settings("mode = \"smarthost\"\nsmarthost = \"127.0.0.1:" + peer.port() + "\"\ncommand_timeout = \"2s\"\n" + extra);
        return new Transfer(s, new Routes(dns.client(), s), new ClientTls(false));
    }

    static Transfer.Outgoing message(List<Address> to, String content) {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        return new Transfer.Outgoing("Q1", FROM, to, false, false, bytes.length, () -> new ByteArrayInputStream(bytes));
    }

    /** A well-behaved ESMTP peer offering {@code ext}, answering RCPT by {@code rcpt}. */
    static Function<String, String> esmtp(String ext, Function<String, String> rcpt) {
        return cmd -> {
            String c = cmd.toUpperCase();
            if (c.startsWith("EHLO")) return "250-peer.test\r\n" + ext + "250 ENHANCEDSTATUSCODES\r\n";
            if (c.startsWith("MAIL")) return "250 2.1.0 Ok\r\n";
            if (c.startsWith("RCPT")) return rcpt.apply(cmd);
            if (c.equals("DATA")) return "354 go ahead\r\n";
            if (c.equals(".")) return "250 2.0.0 Ok: queued\r\n";
            if (c.equals("RSET")) return "250 2.0.0 Ok\r\n";
            if (c.equals("QUIT")) return "221 2.0.0 Bye\r\n";
            return "502 5.5.2 what?\r\n";
        };
    }

    Transfer.Unreachable unreachable(Transfer t) {
        return assertInstanceOf(Transfer.Unreachable.class, t.open("example.net"));
    }

    @Test void malformedGreetingsAreTemporaryFailures() throws Exception {
        for (String bad : List.of("220-first\r\n221 code changed\r\n", "22 short\r\n", "220 bare lf\n", "abc\r\n",
                "220-never ends\r\n", "620 out of range\r\n", "220x no separator\r\n", "220-" + "x".repeat(5000) + "\r\n")) {
            peer = new ScriptedPeer(bad, cmd -> null);
            Transfer.Unreachable u = unreachable(transfer(""));
            assertFalse(u.permanent(), bad);
            assertTrue(u.status().startsWith("4."), bad + " -> " + u);
            peer.close();
        }
        peer = null;
    }

    @Test void aPeerThatStopsAnsweringIsATemporaryFailureOnceTheCommandTimeoutPasses() throws Exception {
        Function<String, String> normal = esmtp("", r -> "250 2.1.5 Ok\r\n");
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", cmd -> cmd.startsWith("MAIL") ? null : normal.apply(cmd));
        Transfer t = transfer(""); // command_timeout 2s
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        long start = System.nanoTime();
        RecipientOutcome o = t.send(c, message(List.of(X), "Subject: hi\r\n\r\nbody\r\n")).outcomes().getFirst();
        long waited = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        c.close();
        assertEquals(Action.DELAYED, o.action(), o.toString());
        assertTrue(o.status().startsWith("4."), o.toString());
        assertTrue(waited >= 1900, "gave up after " + waited + " ms of a 2 s timeout");
    }

    /** A peer that answers 354 and then never reads: the message's writes fill the buffers and block. */
    @Test void aPeerThatStopsReadingTheMessageIsATemporaryFailureOnceTheDataTimeoutPasses() throws Exception {
        try (java.net.ServerSocket server = new java.net.ServerSocket()) {
            server.setReceiveBufferSize(4096);   // before bind: the accepted socket's window stays small
            server.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
            Thread.ofVirtual().start(() -> {
                try (java.net.Socket s = server.accept()) {
                    var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    var out = s.getOutputStream();
                    out.write("220 peer.test ESMTP\r\n".getBytes(StandardCharsets.US_ASCII));
                    for (String line; (line = in.readLine()) != null; ) {
                        String reply = line.startsWith("EHLO") ? "250 peer.test\r\n" : line.equals("DATA") ? "354 go ahead\r\n" : "250 Ok\r\n";
                        out.write(reply.getBytes(StandardCharsets.US_ASCII));
                        if (line.equals("DATA")) Thread.sleep(20_000);   // reads nothing more
                    }
                } catch (Exception ended) {
                    // the client gave up and closed, or the test is over
                }
            });
            var s = RoutesTest.settings("mode = \"smarthost\"\nsmarthost = \"127.0.0.1:" + server.getLocalPort()
                    + "\"\ncommand_timeout = \"2s\"\ndata_timeout = \"2s\"\n");
            Transfer t = new Transfer(s, new Routes(dns.client(), s), new ClientTls(false));
            SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
            String line = "x".repeat(998) + "\r\n";
            long start = System.nanoTime();
            RecipientOutcome o = t.send(c, message(List.of(X), "Subject: big\r\n\r\n" + line.repeat(64 * 1024))).outcomes().getFirst();
            long waited = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            c.close();
            assertEquals(Action.DELAYED, o.action(), o.toString());
            assertTrue(o.status().startsWith("4."), o.toString());
            assertTrue(waited >= 1900 && waited < 10_000, "gave up after " + waited + " ms of a 2 s timeout (the peer sleeps 20 s)");
        }
    }

    @Test void multiLineRepliesAndHeloFallback() throws Exception {
        peer = new ScriptedPeer("220-peer.test\r\n220-welcome\r\n220 ESMTP\r\n", cmd -> {
            if (cmd.startsWith("EHLO")) return "502 5.5.1 EHLO not implemented\r\n";
            if (cmd.startsWith("HELO")) return "250 peer.test\r\n";
            return esmtp("", r -> "250 2.1.5 Ok\r\n").apply(cmd);
        });
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        assertFalse(c.isEsmtp());
        Transfer.Result r = t.send(c, message(List.of(X), "Subject: hi\r\n\r\nbody\r\n"));
        assertEquals(Action.DELIVERED, r.outcomes().getFirst().action());
        c.close();
        assertTrue(peer.commands.contains("HELO mx.test"), peer.commands.toString());
        assertTrue(peer.commands.contains("MAIL FROM:<alice@example.test>"), "no ESMTP parameters for a HELO server: " + peer.commands);
    }

    @Test void eachRecipientGetsItsOwnOutcome() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", esmtp("", rcpt -> rcpt.contains("<x@") ? "250 2.1.5 Ok\r\n"
                : rcpt.contains("<y@") ? "550 5.1.1 no such user\r\n" : "452 4.2.2 mailbox full\r\n"));
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        List<RecipientOutcome> o = t.send(c, message(List.of(X, Y, Z), "Subject: hi\r\n\r\nbody\r\n")).outcomes();
        assertEquals(List.of(Action.DELIVERED, Action.FAILED, Action.DELAYED), o.stream().map(RecipientOutcome::action).toList());
        assertEquals("5.1.1", o.get(1).status());
        assertEquals("smtp; 550 5.1.1 no such user", o.get(1).diagnostic());
        assertEquals("4.2.2", o.get(2).status());
        assertTrue(t.reset(c), "RSET before the next transaction on the same session");
        c.close();
    }

    @Test void pipelinedCommandsGoInOneBatch() throws Exception {
        // The peer answers nothing until DATA arrives: a client that waited for MAIL's reply would time out.
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", "DATA", esmtp("250-PIPELINING\r\n", r -> "250 2.1.5 Ok\r\n"));
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        List<RecipientOutcome> o = t.send(c, message(List.of(X, Y), "Subject: hi\r\n\r\nbody\r\n")).outcomes();
        assertEquals(List.of(Action.DELIVERED, Action.DELIVERED), o.stream().map(RecipientOutcome::action).toList());
        c.close();
        assertEquals(List.of("Subject: hi\r\n\r\nbody\r\n"), peer.messages);
    }

    @Test void aMessageOverThePeersSizeLimitFailsWithoutBeingSent() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", esmtp("250-SIZE 10\r\n", r -> "250 2.1.5 Ok\r\n"));
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        RecipientOutcome o = t.send(c, message(List.of(X), "Subject: far too long\r\n\r\nbody\r\n")).outcomes().getFirst();
        assertEquals(Action.FAILED, o.action());
        assertEquals("5.3.4", o.status());
        c.close();
        assertFalse(peer.commands.stream().anyMatch(l -> l.startsWith("MAIL")));
    }

    @Test void sizeAndEightBitAndUtf8ParametersWhereOffered() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", esmtp("250-SIZE 1000000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n", r -> "250 2.1.5 Ok\r\n"));
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        byte[] bytes = "Subject: caf\u00e9\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8);
        var m = new Transfer.Outgoing("Q2", FROM, List.of(Address.of("jos\u00e9", "example.net")), true, true, bytes.length,
                () -> new ByteArrayInputStream(bytes));
        assertEquals(Action.DELIVERED, t.send(c, m).outcomes().getFirst().action());
        c.close();
        assertTrue(peer.commands.contains("MAIL FROM:<alice@example.test> SIZE=" + bytes.length + " BODY=8BITMIME SMTPUTF8"), peer.commands.toString());
        assertTrue(peer.commands.contains("RCPT TO:<jos\u00e9@example.net>"), peer.commands.toString());
    }

    @Test void aMalformedReplyMidTransactionDefersAndDropsTheSession() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", cmd -> cmd.equals(".") ? "250-ok\r\n554 changed my mind\r\n"
                : esmtp("", r -> "250 2.1.5 Ok\r\n").apply(cmd));
        Transfer t = transfer("");
        SmtpClient c = assertInstanceOf(Transfer.Connected.class, t.open("example.net")).client();
        Transfer.Result r = t.send(c, message(List.of(X), "Subject: hi\r\n\r\nbody\r\n"));
        assertFalse(r.reusable());
        RecipientOutcome o = r.outcomes().getFirst();
        assertEquals(Action.DELAYED, o.action());
        assertEquals("4.5.0", o.status());
        assertTrue(o.diagnostic().contains("protocol error"), o.diagnostic());
    }

    @Test void requiredTlsWithoutStarttlsDefers() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", esmtp("", r -> "250 2.1.5 Ok\r\n"));
        Transfer.Unreachable u = unreachable(transfer("tls = \"required\"\n"));
        assertFalse(u.permanent());
        assertEquals("4.7.10", u.status());
        assertFalse(peer.commands.stream().anyMatch(l -> l.startsWith("MAIL")));
    }

    @Test void credentialsAreNeverSentWithoutTls() throws Exception {
        peer = new ScriptedPeer("220 peer.test ESMTP\r\n", esmtp("250-AUTH PLAIN LOGIN\r\n", r -> "250 2.1.5 Ok\r\n"));
        Transfer.Unreachable u = unreachable(transfer("auth_user = \"u\"\nauth_password = \"secret\"\n"));
        assertFalse(u.permanent());
        assertTrue(u.diagnostic().contains("without TLS"), u.diagnostic());
        assertFalse(peer.commands.stream().anyMatch(l -> l.startsWith("AUTH")), peer.commands.toString());
    }

    @Test void aGreetingRefusalMovesOnAndTheLastErrorIsReported() throws Exception {
        peer = new ScriptedPeer("554 5.7.1 go away\r\n", cmd -> cmd.equals("QUIT") ? "221 Bye\r\n" : null);
        Transfer.Unreachable u = unreachable(transfer(""));
        assertFalse(u.permanent(), "a 554 greeting is the host's problem, not the recipient's");
        assertTrue(u.diagnostic().contains("554 5.7.1 go away"), u.diagnostic());
    }
}
