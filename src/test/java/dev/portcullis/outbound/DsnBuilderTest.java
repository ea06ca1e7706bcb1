package dev.portcullis.outbound;

import static dev.portcullis.testkit.TextAssert.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import dev.portcullis.queue.Envelope;
import jakarta.mail.BodyPart;
import jakarta.mail.Header;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DSN is parsed back with Jakarta (Angus) Mail — a parser independent of the Mime4j the builder uses —
 * and every message is checked for CRLF lines of at most 998 octets.
 */
@Timeout(30)
class DsnBuilderTest {

    private static final Instant RECEIVED = Instant.parse("2025-03-01T10:00:00Z");
    private static final Instant NOW = Instant.parse("2025-03-01T10:05:00Z");
    private static final Address SENDER = Address.of("alice", "example.org");
    private static final Address BOB = Address.of("bob", "example.com");
    private static final Address CAROL = Address.of("carol", "example.net");
    private static final String ORIGINAL = "Return-Path: <alice@example.org>\r\n"
            + "Received: from client.example.org ([192.0.2.7])\r\n\tby mx.example.org with ESMTP id 01JTEST;\r\n"
            + "\tSat, 1 Mar 2025 10:00:00 +0000\r\n"
            + "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: Lunch on Friday?\r\n"
            + "Message-ID: <lunch-123@example.org>\r\n"
            + "\r\n"
            + "SECRET-BODY-LINE: the body never travels back\r\n";
    private static final List<String> TOP_FIELDS = List.of(
            "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type");
    private static final List<String> MESSAGE_FIELDS = List.of("Reporting-MTA", "Arrival-Date", "X-Portcullis-Queue-ID");
    private static final List<String> RECIPIENT_FIELDS = List.of(
            "Final-Recipient", "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date");

    private final DsnBuilder builder = new DsnBuilder("mx.example.org", ZoneOffset.UTC);

    // ------------------------------------------------------------------------------------ helpers

    private static Envelope envelope(Address sender, Map<String, String> params, Address... rcpts) {
        return new Envelope("01JTEST0000000AB", sender, List.of(rcpts), RECEIVED, "192.0.2.7", "client.example.org",
                null, params);
    }

    private static Envelope envelope(Address... rcpts) { return envelope(SENDER, Map.of(), rcpts); }

    private static RecipientOutcome failed(Address rcpt, String status, String remote, String diagnostic) {
        return new RecipientOutcome(rcpt, Action.FAILED, status, remote, diagnostic);
    }

    private static RecipientOutcome bobUnknown() {
        return failed(BOB, "5.1.1", "mx.example.com", "smtp; 550 5.1.1 <bob@example.com>: no such user");
    }

    private static InputStream content(String s) { return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8)); }

    private byte[] build(List<RecipientOutcome> outcomes) throws IOException {
        return builder.build("mx.example.org", envelope(BOB, CAROL), outcomes, content(ORIGINAL), NOW);
    }

    /** Every line ends in CRLF, none is longer than 998 octets, no CR or LF stands alone. */
    private static void assertWellFormed(byte[] m) {
        int length = 0;
        for (int i = 0; i < m.length; i++) {
            if (m[i] == '\r') {
                assertTrue(i + 1 < m.length && m[i + 1] == '\n', "bare CR at " + i);
                i++;
                length = 0;
            } else {
                assertNotEquals('\n', (char) m[i], "bare LF at " + i);
                length++;
                assertTrue(length <= 998, "line longer than 998 octets at " + i);
            }
        }
        assertEquals(0, length, "the message ends with CRLF");
    }

    private static boolean sevenBit(byte[] m) {
        for (byte b : m) if (b < 0) return false;
        return true;
    }

    private static String text(byte[] m) { return new String(m, StandardCharsets.UTF_8); }

    private static List<String> lines(byte[] m) { return List.of(text(m).split("\r\n")); }

    private static MimeMessage parse(byte[] m) throws MessagingException {
        return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(m));
    }

    private static MimeMultipart multipart(MimeMessage message) throws MessagingException {
        return new MimeMultipart(message.getDataHandler().getDataSource());
    }

    private static List<String> headerNames(Iterable<Header> headers) {
        List<String> names = new ArrayList<>();
        headers.forEach(h -> names.add(h.getName()));
        return names;
    }

    private static List<String> headerNames(MimeMessage m) throws MessagingException {
        return headerNames(Collections.list(m.getAllHeaders()));
    }

    private static List<String> headerNames(BodyPart p) throws MessagingException {
        return headerNames(Collections.list(p.getAllHeaders()));
    }

    /** A part's content, transfer-decoded. */
    private static byte[] decoded(BodyPart part) throws IOException, MessagingException {
        try (InputStream in = part.getInputStream()) {
            return in.readAllBytes();
        }
    }

    /** The parts, asserting there are exactly the three of RFC 6522 in order. */
    private static List<BodyPart> reportParts(byte[] dsn) throws MessagingException {
        MimeMessage message = parse(dsn);
        ContentType type = new ContentType(message.getContentType());
        assertEquals("multipart/report", type.getBaseType());
        assertEquals("delivery-status", type.getParameter("report-type"));
        MimeMultipart mp = multipart(message);
        assertEquals(3, mp.getCount(), "parts");
        List<BodyPart> parts = new ArrayList<>();
        for (int i = 0; i < 3; i++) parts.add(mp.getBodyPart(i));
        assertEquals("text/plain", new ContentType(parts.get(0).getContentType()).getBaseType());
        assertEquals("message/delivery-status", new ContentType(parts.get(1).getContentType()).getBaseType());
        assertEquals("text/rfc822-headers", new ContentType(parts.get(2).getContentType()).getBaseType());
        assertTrue(text(dsn).endsWith("--" + type.getParameter("boundary") + "--\r\n"), "closing delimiter");
        return parts;
    }

    /**
     * The message/delivery-status body as field blocks (RFC 3464 2.1): blank-line separated, each field
     * unfolded; asserts every line is a field or a continuation, and no field name repeats in a block.
     */
    private static List<Map<String, String>> statusBlocks(byte[] dsn) throws IOException, MessagingException {
        String body = text(decoded(reportParts(dsn).get(1)));
        assertTrue(body.endsWith("\r\n"), "the last field ends with CRLF");
        List<Map<String, String>> blocks = new ArrayList<>();
        for (String block : body.split("\r\n\r\n")) {
            if (block.isBlank()) continue;
            Map<String, String> fields = new LinkedHashMap<>();
            String name = null;
            for (String line : block.split("\r\n")) {
                if (line.isEmpty()) continue;
                if (line.startsWith(" ") || line.startsWith("\t")) {
                    assertTrue(name != null, "continuation without a field: " + line);
                    fields.put(name, fields.get(name) + line);         // unfold: drop the CRLF only
                    continue;
                }
                Matcher m = Pattern.compile("([A-Za-z0-9-]+): (.*)").matcher(line);
                assertTrue(m.matches(), "not a field: " + line);
                name = m.group(1);
                assertNull(fields.put(name, m.group(2)), "repeated field " + name);
            }
            blocks.add(fields);
        }
        return blocks;
    }

    private static String rfc5322(Instant t) {
        return DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US).format(t.atZone(ZoneOffset.UTC));
    }

    // ------------------------------------------------------------------------------------ structure

    @Test
    void bounceIsAMultipartReportWithTheThreePartsAndTheRightHeader() throws Exception {
        byte[] dsn = build(List.of(bobUnknown()));
        assertWellFormed(dsn);
        assertTrue(sevenBit(dsn));
        MimeMessage m = parse(dsn);

        assertEquals(TOP_FIELDS, headerNames(m));
        assertEquals("Mail Delivery System <MAILER-DAEMON@mx.example.org>", m.getHeader("From", null));
        assertEquals("<alice@example.org>", m.getHeader("To", null));
        assertEquals("Undelivered Mail Returned to Sender", m.getSubject());
        assertEquals("auto-replied", m.getHeader("Auto-Submitted", null));
        assertEquals("1.0", m.getHeader("MIME-Version", null));
        assertEquals(NOW, ZonedDateTime.parse(m.getHeader("Date", null), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        assertTrue(m.getMessageID().matches("<[0-9a-z]+\\.[0-9A-Za-z]{16}\\.dsn@mx\\.example\\.org>"), m.getMessageID());

        List<BodyPart> parts = reportParts(dsn);
        String notice = text(decoded(parts.get(0)));
        assertContains(notice, "\r\n<bob@example.com>\r\n");
        assertContains(notice, "    host mx.example.com said: 550 5.1.1 <bob@example.com>: no such user");
        assertContains(notice, "will not try");
        assertContains(notice.replace("\r\n", " "), "(queue id 01JTEST0000000AB)");
        assertEquals("text/plain; charset=us-ascii", parts.get(0).getContentType());
    }

    @Test
    void deliveryStatusHasThePerMessageAndPerRecipientFields() throws Exception {
        List<Map<String, String>> blocks = statusBlocks(build(List.of(bobUnknown())));
        assertEquals(2, blocks.size());
        assertEquals(Map.of("Reporting-MTA", "dns; mx.example.org", "Arrival-Date", rfc5322(RECEIVED),
                "X-Portcullis-Queue-ID", "01JTEST0000000AB"), blocks.get(0));
        assertEquals(MESSAGE_FIELDS, List.copyOf(blocks.get(0).keySet()));
        Map<String, String> bob = blocks.get(1);
        assertEquals(RECIPIENT_FIELDS, List.copyOf(bob.keySet()));
        assertEquals("rfc822; bob@example.com", bob.get("Final-Recipient"));
        assertEquals("failed", bob.get("Action"));
        assertEquals("5.1.1", bob.get("Status"));
        assertEquals("dns; mx.example.com", bob.get("Remote-MTA"));
        assertEquals("smtp; 550 5.1.1 <bob@example.com>: no such user", bob.get("Diagnostic-Code"));
        assertEquals(rfc5322(NOW), bob.get("Last-Attempt-Date"));
    }

    @Test
    void twoRecipientsMakeTwoBlocksAndDeliveredOnesAreNotReported() throws Exception {
        byte[] dsn = build(List.of(
                bobUnknown(),
                new RecipientOutcome(Address.of("dave", "example.com"), Action.DELIVERED, "2.0.0", "mx.example.com",
                        "smtp; 250 2.0.0 ok"),
                failed(CAROL, "5.7.1", "mx.example.net", "smtp; 554 5.7.1 rejected by policy")));
        assertWellFormed(dsn);
        List<Map<String, String>> blocks = statusBlocks(dsn);
        assertEquals(3, blocks.size());
        assertEquals("rfc822; bob@example.com", blocks.get(1).get("Final-Recipient"));
        assertEquals("rfc822; carol@example.net", blocks.get(2).get("Final-Recipient"));
        assertEquals("5.7.1", blocks.get(2).get("Status"));
        assertEquals("smtp; 554 5.7.1 rejected by policy", blocks.get(2).get("Diagnostic-Code"));
        assertFalse(text(dsn).contains("dave@"), "a delivered recipient is not mentioned");
        String notice = text(decoded(reportParts(dsn).get(0)));
        assertTrue(notice.indexOf("<bob@example.com>") < notice.indexOf("<carol@example.net>"));
    }

    @Test
    void delayWarningSaysDelayedAndUntilWhen() throws Exception {
        Instant until = Instant.parse("2025-03-06T10:00:00Z");
        byte[] dsn = builder.build("mx.example.org", envelope(BOB),
                List.of(new RecipientOutcome(BOB, Action.DELAYED, "4.4.1", "mx.example.com", "smtp; 421 4.4.1 busy")),
                content(ORIGINAL), NOW, until);
        assertWellFormed(dsn);
        assertEquals("Delivery Status Notification (Delay)", parse(dsn).getSubject());
        Map<String, String> bob = statusBlocks(dsn).get(1);
        assertEquals("delayed", bob.get("Action"));
        assertEquals("4.4.1", bob.get("Status"));
        assertEquals(rfc5322(until), bob.get("Will-Retry-Until"));
        String notice = text(decoded(reportParts(dsn).get(0))).replace("\r\n", " ");
        assertContains(notice, "will keep trying until " + rfc5322(until));
        assertContains(notice, "only a warning");
    }

    @Test
    void delayWarningWithoutADeadlineSaysItKeepsTrying() throws Exception {
        byte[] dsn = builder.build("mx.example.org", envelope(BOB),
                List.of(new RecipientOutcome(BOB, Action.DELAYED, "4.4.1", null, "connection timed out")), content(ORIGINAL), NOW);
        Map<String, String> bob = statusBlocks(dsn).get(1);
        assertEquals(List.of("Final-Recipient", "Action", "Status", "Diagnostic-Code", "Last-Attempt-Date"),
                List.copyOf(bob.keySet()));
        assertEquals("X-Portcullis; connection timed out", bob.get("Diagnostic-Code"));
        assertContains(text(decoded(reportParts(dsn).get(0))).replace("\r\n", " "), "will keep trying.");
    }

    @Test
    void theOriginalHeaderIsQuotedAndItsBodyIsNot() throws Exception {
        byte[] dsn = build(List.of(bobUnknown()));
        assertFalse(text(dsn).contains("SECRET-BODY-LINE"), "the body is not in the DSN");
        String quoted = text(decoded(reportParts(dsn).get(2)));
        assertEquals(ORIGINAL.substring(0, ORIGINAL.indexOf("\r\n\r\n") + 2), quoted);
    }

    @Test
    void envelopeIdIsReportedDecodedFromXtext() throws Exception {
        byte[] dsn = builder.build("mx.example.org", envelope(SENDER, Map.of("ENVID", "QQ+2B314159"), BOB),
                List.of(bobUnknown()), content(ORIGINAL), NOW);
        Map<String, String> message = statusBlocks(dsn).get(0);
        assertEquals("Original-Envelope-Id", message.keySet().iterator().next(), "RFC 3464 2.2: it comes first");
        assertEquals("QQ+314159", message.get("Original-Envelope-Id"));
    }

    @Test
    void statusCodesAreCheckedAgainstTheAction() throws Exception {
        byte[] dsn = build(List.of(
                failed(BOB, "bogus\r\nBcc: x@example.com", null, null),
                failed(CAROL, "4.4.7", null, "message expired after 5 days")));
        List<Map<String, String>> blocks = statusBlocks(dsn);
        assertEquals("5.0.0", blocks.get(1).get("Status"));
        assertNull(blocks.get(1).get("Diagnostic-Code"));
        assertNull(blocks.get(1).get("Remote-MTA"));
        assertEquals("4.4.7", blocks.get(2).get("Status"), "an expired temporary failure keeps its 4.x.x");
        assertEquals("4.0.0", DsnBuilder.status(new RecipientOutcome(BOB, Action.DELAYED, "5.1.1", null, null)));
    }

    @Test
    void misuseIsRefused() {
        InputStream in = content(ORIGINAL);
        assertThrows(IllegalArgumentException.class, () -> builder.build("mx.example.org",
                envelope(Address.NULL_SENDER, Map.of(), BOB), List.of(bobUnknown()), in, NOW));
        assertThrows(IllegalArgumentException.class, () -> builder.build("mx.example.org", envelope(BOB),
                List.of(new RecipientOutcome(BOB, Action.DELIVERED, "2.0.0", null, null)), in, NOW));
        assertThrows(IllegalArgumentException.class, () -> builder.build("mx.example.org\r\nBcc: x@example.com",
                envelope(BOB), List.of(bobUnknown()), in, NOW));
        assertThrows(IllegalArgumentException.class, () -> new DsnBuilder("mx\r\nBcc: x@example.com", ZoneOffset.UTC));
    }

    // ------------------------------------------------------------------------------------ injection

    @ParameterizedTest
    @ValueSource(strings = {
            "550 5.1.1 bad\r\nBcc: victim@example.com\r\n\r\n--boundary\r\nContent-Type: text/html\r\n\r\n<h1>hi</h1>",
            "550 5.1.1 bad\nBcc: victim@example.com\n\n--boundary\nContent-Type: text/html\n\n<h1>hi</h1>",
            "550 5.1.1 bad\rBcc: victim@example.com\r\r--boundary\rContent-Type: text/html",
            "550 5.1.1 bad\u0000\r\nBcc: victim@example.com\u0000\r\n\r\n--boundary\r\nContent-Type: text/html",
            "550 5.1.1 bad\u2028Bcc: victim@example.com\u0085\u2029--boundary\u000bContent-Type: text/html",
            "smtp; 550-5.1.1 bad\r\n550-5.1.1 Bcc: victim@example.com\r\n550 5.1.1 --boundary Content-Type: text/html",
    })
    void aCraftedReplyCannotAddFieldsOrParts(String diagnostic) throws Exception {
        byte[] dsn = build(List.of(failed(BOB, "5.1.1", "mx.example.com", diagnostic)));
        assertOnlyOurStructure(dsn);
        String code = statusBlocks(dsn).get(1).get("Diagnostic-Code");
        assertTrue(code.startsWith("smtp; 550"), code);
        assertContains(code, "Bcc: victim@example.com");                 // kept as text, inside the field
        assertTrue(sevenBit(dsn));
    }

    @ParameterizedTest
    @ValueSource(ints = {997, 998, 999, 5000, 100_000})
    void aVeryLongReplyIsCutAndFolded(int length) throws Exception {
        String words = "550 5.1.1 " + "word ".repeat(length / 5) + "\r\nBcc: victim@example.com";
        String oneWord = "550 5.1.1 " + "x".repeat(length) + "\r\nBcc: victim@example.com";
        for (boolean spaces : new boolean[] {true, false}) {
            byte[] dsn = build(List.of(failed(BOB, "5.1.1", "mx.example.com", spaces ? words : oneWord)));
            assertOnlyOurStructure(dsn);
            String code = statusBlocks(dsn).get(1).get("Diagnostic-Code");
            assertTrue(code.startsWith("smtp; 550 5.1.1 "), code);
            assertTrue("Diagnostic-Code: ".length() + code.length() <= 998, "unfolded, the field fits a line");
            List<String> all = lines(dsn);
            int first = all.indexOf(all.stream().filter(l -> l.startsWith("Diagnostic-Code: ")).findFirst().orElseThrow());
            for (int i = first; i == first || all.get(i).startsWith(" "); i++) {
                if (spaces) assertTrue(all.get(i).length() <= 78, "folded at 78 columns: " + all.get(i));
                assertFalse(all.get(i).isBlank(), "no blank continuation line");
            }
        }
    }

    @Test
    void addressesAndTheRemoteHostAreSanitisedToo() throws Exception {
        Address sender = Address.of("alice\r\nBcc: victim@example.com", "example.org");
        Address rcpt = Address.of("bob\r\n\r\n--boundary\r\nContent-Type: text/html", "example.com");
        byte[] dsn = builder.build("mx.example.org", envelope(sender, Map.of("ENVID", "x+0D+0ABcc:+20victim@example.com"), rcpt),
                List.of(failed(rcpt, "5.1.1", "mx.example.com\r\nBcc: victim@example.com", "550 5.1.1 no")),
                content(ORIGINAL), NOW);
        List<Map<String, String>> blocks = statusBlocks(dsn);
        assertEquals("x Bcc: victim@example.com", blocks.get(0).get("Original-Envelope-Id"));
        assertOnlyOurStructure(dsn, List.of("Original-Envelope-Id", "Reporting-MTA", "Arrival-Date", "X-Portcullis-Queue-ID"));
        assertEquals("<alice Bcc: victim@example.com@example.org>", parse(dsn).getHeader("To", null));
        assertEquals("dns; mx.example.com Bcc: victim@example.com", blocks.get(1).get("Remote-MTA"));
        assertEquals("rfc822; bob --boundary Content-Type: text/html@example.com", blocks.get(1).get("Final-Recipient"));
    }

    /** A boundary that occurs in the content is never used: the next random one is. */
    @Test
    void theBoundaryNeverOccursInTheContent() throws Exception {
        String first = DsnBuilder.boundary(new Random(7));
        DsnBuilder seeded = new DsnBuilder("mx.example.org", ZoneOffset.UTC, new Random(7));
        String original = "Subject: trap\r\n--" + first + ": a field whose name is a delimiter line\r\n--" + first
                + "--: and a closing one\r\n\r\nbody\r\n";
        byte[] dsn = seeded.build("mx.example.org", envelope(BOB),
                List.of(failed(BOB, "5.1.1", "mx.example.com", "550 5.1.1 \r\n--" + first + "\r\nContent-Type: text/html")),
                content(original), NOW);
        assertOnlyOurStructure(dsn);
        String boundary = new ContentType(parse(dsn).getContentType()).getParameter("boundary");
        assertNotEquals(first, boundary);
        String quoted = text(decoded(reportParts(dsn).get(2)));
        assertContains(quoted, "\r\n--" + first + ": a field whose name is a delimiter line\r\n");
    }

    /**
     * Exactly our header fields, our three parts with exactly their header fields, delivery-status blocks
     * with exactly the RFC 3464 fields, and no line anywhere that starts a Bcc field or an HTML part.
     */
    private static void assertOnlyOurStructure(byte[] dsn) throws Exception {
        assertOnlyOurStructure(dsn, MESSAGE_FIELDS);
    }

    private static void assertOnlyOurStructure(byte[] dsn, List<String> messageFields) throws Exception {
        assertWellFormed(dsn);
        MimeMessage m = parse(dsn);
        assertEquals(TOP_FIELDS, headerNames(m));
        assertNull(m.getHeader("Bcc"));
        List<BodyPart> parts = reportParts(dsn);
        assertEquals(List.of("Content-Description", "Content-Type", "Content-Transfer-Encoding"), headerNames(parts.get(0)));
        assertEquals(List.of("Content-Description", "Content-Type"), headerNames(parts.get(1)));
        assertEquals(List.of("Content-Description", "Content-Type"), headerNames(parts.get(2)));
        List<Map<String, String>> blocks = statusBlocks(dsn);
        assertEquals(messageFields, List.copyOf(blocks.get(0).keySet()));
        for (Map<String, String> block : blocks.subList(1, blocks.size())) {
            assertTrue(RECIPIENT_FIELDS.containsAll(block.keySet()), block.keySet().toString());
        }
        for (String line : lines(dsn)) {
            String l = line.toLowerCase(Locale.ROOT);
            assertFalse(l.startsWith("bcc"), line);
            assertFalse(l.startsWith("content-type: text/html"), line);
            assertFalse(l.startsWith("--boundary"), line);
            assertFalse(l.startsWith("<h1>"), line);
        }
        for (String line : text(decoded(parts.get(0))).split("\r\n")) {
            assertFalse(line.toLowerCase(Locale.ROOT).startsWith("bcc"), line);
            assertFalse(line.startsWith("--"), line);
        }
    }

    // ------------------------------------------------------------------------------------ the quoted header

    @Test
    void aHugeHeaderIsCutAtAFieldAndTheBodyIsNeverRead() throws Exception {
        StringBuilder original = new StringBuilder();
        for (int i = 0; original.length() < 1024 * 1024; i++) {
            original.append(String.format("X-Filler-%06d: %s\r\n", i, "a".repeat(80)));
        }
        original.append("\r\n").append("SECRET-BODY-LINE\r\n".repeat(100_000));
        CountingStream in = new CountingStream(content(original.toString()));

        byte[] dsn = builder.build("mx.example.org", envelope(BOB), List.of(bobUnknown()), in, NOW);
        assertOnlyOurStructure(dsn);
        assertTrue(in.count <= DsnBuilder.HEADER_CAP, "read " + in.count + " octets");
        assertTrue(dsn.length < DsnBuilder.HEADER_CAP + 8192, "DSN of " + dsn.length + " octets");
        BodyPart headers = reportParts(dsn).get(2);
        assertEquals("Undelivered Message Headers (truncated)", headers.getDescription());
        String quoted = text(decoded(headers));
        assertTrue(quoted.length() > DsnBuilder.HEADER_CAP - 200 && quoted.length() <= DsnBuilder.HEADER_CAP, "" + quoted.length());
        for (String line : quoted.split("\r\n")) {
            assertTrue(line.matches("X-Filler-\\d{6}: a{80}"), "only complete fields: " + line);
        }
        assertContains(text(decoded(reportParts(dsn).get(0))).replace("\r\n", " "), "too long");
    }

    @Test
    void oneHugeFieldIsDroppedNotSent() throws Exception {
        String original = "Subject: " + "spam ".repeat(300_000) + "\r\n\r\nbody\r\n";
        byte[] dsn = builder.build("mx.example.org", envelope(BOB), List.of(bobUnknown()), content(original), NOW);
        assertOnlyOurStructure(dsn);
        assertEquals(0, decoded(reportParts(dsn).get(2)).length);
        assertTrue(dsn.length < 8192);
    }

    @Test
    void overlongHeaderLinesAreFoldedAndKeepTheirText() throws Exception {
        String value = "x".repeat(2500);
        String words = "w ".repeat(1500).strip();
        byte[] dsn = builder.build("mx.example.org", envelope(BOB), List.of(bobUnknown()),
                content("Subject: " + value + "\r\nX-Words: " + words + "\r\n\r\nbody\r\n"), NOW);
        assertOnlyOurStructure(dsn);
        List<String> quoted = List.of(text(decoded(reportParts(dsn).get(2))).split("\r\n"));
        assertTrue(quoted.size() > 4);
        assertTrue(quoted.get(0).startsWith("Subject: "));
        StringBuilder subject = new StringBuilder(quoted.get(0));
        int i = 1;
        for (; !quoted.get(i).startsWith("X-Words: "); i++) {
            assertTrue(quoted.get(i).startsWith(" "), "a continuation starts with a space");
            subject.append(quoted.get(i).substring(1));         // hard cut: the space was added
        }
        assertEquals("Subject: " + value, subject.toString());
        StringBuilder xWords = new StringBuilder(quoted.get(i));
        for (i++; i < quoted.size(); i++) xWords.append(quoted.get(i)); // soft fold: the space was there
        assertEquals("X-Words: " + words, xWords.toString());
    }

    @Test
    void bareLineEndsAndControlsInTheOriginalHeaderAreNormalised() throws Exception {
        String original = "From alice@example.org Sat Mar  1 10:00:00 2025\n"
                + "Subject: a\nX-Odd: b\u0000c\rd\u007fe\n  folded\n \nBcc-Like\n\nbody\n";
        byte[] dsn = builder.build("mx.example.org", envelope(BOB), List.of(bobUnknown()), content(original), NOW);
        assertOnlyOurStructure(dsn);
        assertEquals("Subject: a\r\nX-Odd: b c d e\r\n  folded\r\n", text(decoded(reportParts(dsn).get(2))));
    }

    @Test
    void eightBitHeadersAreQuotedPrintableSoTheDsnStaysSevenBit() throws Exception {
        String header = "Subject: Grüße aus Köln\r\nFrom: Jörg <joerg@example.org>\r\n";
        byte[] dsn = builder.build("mx.example.org", envelope(BOB), List.of(bobUnknown()),
                content(header + "\r\nbody\r\n"), NOW);
        assertWellFormed(dsn);
        assertTrue(sevenBit(dsn));
        BodyPart quoted = reportParts(dsn).get(2);
        assertEquals("quoted-printable", quoted.getHeader("Content-Transfer-Encoding")[0]);
        assertEquals(header, text(decoded(quoted)));
    }

    // ------------------------------------------------------------------------------------ SMTPUTF8

    @Test
    void aUtf8RecipientIsReportedInTheSevenBitFormOfRfc6533() throws Exception {
        Address rcpt = Address.of("用户", "例子.广告");
        byte[] dsn = builder.build("mx.example.org", envelope(rcpt),
                List.of(failed(rcpt, "5.1.1", "mx.例子.广告", "550 5.1.1 用户 unknown")), content(ORIGINAL), NOW);
        assertWellFormed(dsn);
        assertTrue(sevenBit(dsn), "a UTF-8 recipient does not make the DSN 8-bit");
        Map<String, String> block = statusBlocks(dsn).get(1);
        assertEquals("utf-8; \\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}.\\x{5E7F}\\x{544A}", block.get("Final-Recipient"));
        assertEquals("smtp; 550 5.1.1 ?? unknown", block.get("Diagnostic-Code"));
        BodyPart notice = reportParts(dsn).get(0);
        assertEquals("text/plain; charset=utf-8", notice.getContentType());
        String text = text(decoded(notice));
        assertContains(text, "<用户@例子.广告>");
        assertContains(text, "host mx.例子.广告 said: 550 5.1.1 用户 unknown");
    }

    @Test
    void xtextEscapesSpacePlusEqualsAndBackslash() {
        assertEquals("utf-8; a\\x{2B}b\\x{3D}c\\x{5C}d\\x{E9}", DsnBuilder.addressField(Address.of("a+b=c\\dé", "x")).split("@")[0]);
    }

    @Test
    void aUtf8SenderMakesOnlyTheToFieldEightBit() throws Exception {
        byte[] dsn = builder.build("mx.example.org", envelope(Address.of("josé", "example.org"), Map.of(), BOB),
                List.of(bobUnknown()), content(ORIGINAL), NOW);
        assertWellFormed(dsn);
        List<String> eightBit = lines(dsn).stream().filter(l -> !l.chars().allMatch(c -> c < 0x80)).toList();
        assertEquals(List.of("To: <josé@example.org>"), eightBit);
    }

    // ------------------------------------------------------------------------------------ the self-check

    @Test
    void theSelfCheckRejectsWhatWouldBeBroken() throws Exception {
        byte[] good = build(List.of(bobUnknown()));
        DsnBuilder.verify(good);
        String s = text(good);
        assertThrows(IllegalStateException.class, () -> DsnBuilder.verify(s.replaceFirst("\r\n", "\n").getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalStateException.class, () -> DsnBuilder.verify(
                s.replaceFirst("Subject: ", "Subject: " + "x".repeat(990)).getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalStateException.class, () -> DsnBuilder.verify(
                s.replaceFirst("Auto-Submitted", "Bcc: victim@example.com\r\nAuto-Submitted").getBytes(StandardCharsets.UTF_8)));
        String boundary = new ContentType(parse(good).getContentType()).getParameter("boundary");
        String fourParts = s.replace("--" + boundary + "--\r\n",
                "--" + boundary + "\r\nContent-Type: text/html\r\n\r\n<h1>hi</h1>\r\n--" + boundary + "--\r\n");
        assertThrows(IllegalStateException.class, () -> DsnBuilder.verify(fourParts.getBytes(StandardCharsets.UTF_8)));
    }

    /** Counts what the builder reads of the original message. */
    private static final class CountingStream extends FilterInputStream {
        long count;

        CountingStream(InputStream in) { super(in); }

        @Override public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }
    }
}
