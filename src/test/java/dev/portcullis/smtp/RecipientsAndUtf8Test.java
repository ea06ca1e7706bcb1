package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** SMTPUTF8 (RFC 6531), postmaster (RFC 5321 4.5.1), aliases, relaying decisions of the default chain. */
@Timeout(10)
class RecipientsAndUtf8Test {
    static final String EHLO = "EHLO client.test\r\n";
    static final String MAIL = "MAIL FROM:<sender@remote.test>\r\n";
    static final String RCPT = "RCPT TO:<alice@example.test>\r\n";
    static final String QUIT = "QUIT\r\n";

    @TempDir Path dir;

    // ---- SMTPUTF8 ---------------------------------------------------------------------------------

    @Test
    void utf8SenderWithSmtputf8IsQueuedAsUtf8smtp() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, "MAIL FROM:<j\u00f6rg@example.test> SMTPUTF8\r\n", RCPT, "DATA\r\n",
                "Subject: gr\u00fc\u00dfe\r\n\r\nhall\u00f6\r\n.\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        byte[] want = (SmtpKit.received("client.test", "UTF8SMTP", id, "<alice@example.test>")
                + "Subject: gr\u00fc\u00dfe\r\n\r\nhall\u00f6\r\n").getBytes(StandardCharsets.UTF_8);
        assertEquals(new String(want, StandardCharsets.ISO_8859_1), kit.contentText(id), "UTF-8 content kept byte for byte");
        assertEquals(new Address("j\u00f6rg", "example.test", "j\u00f6rg@example.test"), kit.envelope(id).sender());
    }

    @Test
    void utf8AddressWithoutSmtputf8Is553() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<j\u00f6rg@example.test>\r\n", MAIL,
                "RCPT TO:<j\u00f6rg@example.test>\r\n", QUIT);
        assertEquals(List.of("220", "250", "553 5.6.7", "250 2.1.0", "553 5.6.7", "221 2.0.0"), r.codes());
    }

    @Test
    void utf8RecipientInASmtputf8TransactionIsJudgedByThePlugins() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<sender@remote.test> SMTPUTF8\r\n",
                "RCPT TO:<j\u00f6rg@example.test>\r\n", "RCPT TO:<user@b\u00fccher.test>\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.1.1", "550 5.7.1", "221 2.0.0"), r.codes());
    }

    @Test
    void invalidUtf8InMailOrRcptIs501() {
        ByteArrayOutputStream script = new ByteArrayOutputStream();
        script.writeBytes(EHLO.getBytes(StandardCharsets.US_ASCII));
        script.writeBytes("MAIL FROM:<j".getBytes(StandardCharsets.US_ASCII));
        script.writeBytes(new byte[] {(byte) 0xC3, (byte) 0x28}); // not UTF-8
        script.writeBytes("rg@example.test> SMTPUTF8\r\n".getBytes(StandardCharsets.US_ASCII));
        script.writeBytes("MAIL FROM:<sender@remote.test> SMTPUTF8\r\n".getBytes(StandardCharsets.US_ASCII));
        script.writeBytes("RCPT TO:<".getBytes(StandardCharsets.US_ASCII));
        script.writeBytes(new byte[] {(byte) 0xFF, (byte) 0xFE});
        script.writeBytes("@example.test>\r\n".getBytes(StandardCharsets.US_ASCII));
        script.writeBytes(QUIT.getBytes(StandardCharsets.US_ASCII));
        SmtpKit.Run r = SmtpKit.in(dir).run(MemoryTransport.ofBytes(script.toByteArray()));
        assertEquals(List.of("220", "250", "501 5.5.2", "250 2.1.0", "501 5.5.2", "221 2.0.0"), r.codes());
    }

    @Test
    void eightBitContentIsKeptAsSent() {
        // 8BITMIME (and plain SMTP in practice): content octets are not ours to judge
        ByteArrayOutputStream script = new ByteArrayOutputStream();
        script.writeBytes((EHLO + "MAIL FROM:<sender@remote.test> BODY=8BITMIME\r\n" + RCPT + "DATA\r\n").getBytes(StandardCharsets.US_ASCII));
        byte[] content = {'S', 'u', 'b', ':', ' ', (byte) 0xE9, '\r', '\n', '\r', '\n', (byte) 0xFF, 0x01, (byte) 0x80, '\r', '\n'};
        script.writeBytes(content);
        script.writeBytes((".\r\n" + QUIT).getBytes(StandardCharsets.US_ASCII));
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.run(MemoryTransport.ofBytes(script.toByteArray()));
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String stored = kit.contentText(r.queueId());
        assertTrue(stored.endsWith(new String(content, StandardCharsets.ISO_8859_1)));
    }

    // ---- postmaster, aliases, relaying ------------------------------------------------------------

    @Test
    void postmasterWithoutDomainIsAccepted() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<Postmaster>\r\n", "DATA\r\n", "hi\r\n.\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        List<Address> rcpts = kit.envelope(id).recipients();
        assertEquals(1, rcpts.size());
        assertEquals("postmaster", rcpts.getFirst().localPart());
        assertEquals("example.test", rcpts.getFirst().domain());
        assertEquals("Postmaster", rcpts.getFirst().raw());
        assertTrue(kit.contentText(id).contains("\tfor <postmaster@example.test>;\r\n"));
    }

    @Test
    void postmasterOfALocalDomainExistsWithoutAUser() {
        // users are alice and bob only: postmaster always exists (RFC 5321 4.5.1)
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, MAIL, "RCPT TO:<postmaster@example.test>\r\n",
                "RCPT TO:<POSTMASTER@EXAMPLE.TEST>\r\n", "RCPT TO:<postmaster@foreign.test>\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.7.1", "221 2.0.0"), r.codes());
    }

    @Test
    void postmasterWithoutDomainIsOnlyForRcpt() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, "MAIL FROM:<Postmaster>\r\n", QUIT);
        assertEquals(List.of("220", "250", "501 5.1.7", "221 2.0.0"), r.codes());
    }

    @Test
    void aliasesAndCaseInsensitiveLocalParts() {
        SmtpKit kit = SmtpKit.in(dir);
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<sales@example.test>\r\n", "RCPT TO:<Info@Example.Test>\r\n",
                "RCPT TO:<ALICE@example.test>\r\n", "RCPT TO:<carol@example.test>\r\n", "DATA\r\n", "x\r\n.\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "550 5.1.1", "354", "250 2.0.0", "221 2.0.0"),
                r.codes());
        // the envelope keeps the addresses as given (aliases are expanded at delivery); domains in lower case
        assertEquals(List.of(new Address("sales", "example.test", "sales@example.test"),
                        new Address("Info", "example.test", "Info@Example.Test"),
                        new Address("ALICE", "example.test", "ALICE@example.test")),
                kit.envelope(r.queueId()).recipients());
    }

    @Test
    void aliasToPostmasterWorks() {
        SmtpKit kit = SmtpKit.in(dir).aliases("abuse = [\"postmaster\"]\n");
        SmtpKit.Run r = kit.send(EHLO, MAIL, "RCPT TO:<abuse@example.test>\r\n", QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "221 2.0.0"), r.codes());
    }

    @Test
    void tricksThatLookLikeRelayingAreRefused() {
        SmtpKit.Run r = SmtpKit.in(dir).send(EHLO, MAIL,
                "RCPT TO:<victim%foreign.test@example.test>\r\n",      // percent hack
                "RCPT TO:<\"victim@foreign.test\"@example.test>\r\n",   // quoted '@'
                "RCPT TO:<@example.test:victim@foreign.test>\r\n",     // source route through us
                "RCPT TO:<victim@[192.0.2.1]>\r\n",                    // address literal
                "RCPT TO:<victim@foreign.test>\r\n",
                QUIT);
        assertEquals(List.of("220", "250", "250 2.1.0", "550 5.7.1", "550 5.7.1", "550 5.7.1", "550 5.7.1", "550 5.7.1", "221 2.0.0"),
                r.codes());
    }

    @Test
    void clientsInRelayNetworksMaySendAnywhereButUnknownLocalUsersAreStillRefused() {
        SmtpKit kit = SmtpKit.in(dir).relay("192.0.2.0/24");
        SmtpKit.Run r = kit.run(MemoryTransport.of(EHLO, MAIL, "RCPT TO:<someone@foreign.test>\r\n", "RCPT TO:<nobody@example.test>\r\n",
                "DATA\r\n", "x\r\n.\r\n", QUIT).remote("192.0.2.7", 50000));
        assertEquals(List.of("220", "250", "250 2.1.0", "250 2.1.5", "550 5.1.1", "354", "250 2.0.0", "221 2.0.0"), r.codes());
        String id = r.queueId();
        assertEquals("192.0.2.7", kit.envelope(id).clientAddress());
        assertTrue(kit.contentText(id).startsWith("Received: from client.test ([192.0.2.7])\r\n"));
    }

    @Test
    void ipv6ClientIsWrittenAsAnIpv6Literal() {
        SmtpKit kit = SmtpKit.in(dir).relay("2001:db8::/32");
        SmtpKit.Run r = kit.run(MemoryTransport.of(EHLO, MAIL, "RCPT TO:<someone@foreign.test>\r\n", "DATA\r\n", "x\r\n.\r\n", QUIT)
                .remote("2001:db8::7", 50000));
        assertEquals("250 2.0.0", r.codes().get(5));
        String stored = kit.contentText(r.queueId());
        assertTrue(stored.startsWith("Received: from client.test ([IPv6:2001:db8:0:0:0:0:0:7])\r\n"), stored);
        assertTrue(r.reply(1).lines().getFirst().endsWith("[2001:db8:0:0:0:0:0:7]"), r.reply(1).lines().getFirst());
    }
}
