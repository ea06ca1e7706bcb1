package dev.portcullis.outbound;

import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import dev.portcullis.queue.Envelope;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.codec.QuotedPrintableOutputStream;
import org.apache.james.mime4j.stream.EntityState;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.stream.MimeTokenStream;
import org.apache.james.mime4j.stream.RecursionMode;

/*
 * Delivery status notifications: RFC 3464 (the delivery-status fields), RFC 6522 (multipart/report and
 * text/rfc822-headers), RFC 3834 (Auto-Submitted), RFC 6533 (internationalised addresses).
 *
 * Invariants, each kept where the bytes are written and checked once more on the finished message by
 * verify() (a line scan, then Mime4j's strict parser) before it is returned:
 *  - every line ends in CRLF and has at most 998 octets (RFC 5322 2.1.1); no bare CR or LF anywhere;
 *  - text that someone else chose (the remote's diagnostic and host name, addresses, the ENVID) reaches a
 *    header field or a delivery-status field only through field(): control, format and line-separator
 *    characters become spaces, the value is cut so that the unfolded field fits on one line, and folding
 *    only ever puts CRLF before an existing space (RFC 5322 2.2.3). So that text cannot end a field, start
 *    one, end a header section, or start a MIME part; in the human-readable part it only ever appears
 *    indented, on lines of its own that wrap() built;
 *  - the boundary occurs nowhere in the content: drawn at random (with "=_", which quoted-printable cannot
 *    produce), and drawn again if it does occur;
 *  - from the original message only the header section is used, at most HEADER_CAP octets of it (see
 *    HeaderSection); the body is never part of the report;
 *  - the message is 7-bit, so any MTA can carry it, except the To: field when the sender's own address is
 *    UTF-8 (such a bounce needs SMTPUTF8 to be sent at all, RFC 6531). UTF-8 recipients are written in the
 *    7-bit utf-8-addr-xtext form of RFC 6533 3; the human part and the quoted header become
 *    quoted-printable when they are not ASCII. No message/global-* types: those need an SMTPUTF8 path.
 */
/**
 * Writes DSNs: multipart/report with a plain-text explanation, the message/delivery-status fields, and the
 * original header (text/rfc822-headers). Thread-safe.
 */
public final class DsnBuilder implements Dsn {

    /** Octets of the original message's header section quoted at most; a larger one is cut at a field. */
    public static final int HEADER_CAP = 64 * 1024;

    static final int MAX_LINE = 998;                // RFC 5322 2.1.1, without the CRLF
    private static final int FOLD_AT = 78;           // RFC 5322 2.1.1's SHOULD
    private static final int TEXT_WIDTH = 76;
    private static final int LONGEST_WORD = 200;     // code points: 800 octets of UTF-8 at most, plus indent
    /** How much of a diagnostic the human part keeps (octets of UTF-8): what fits one delivery-status line. */
    private static final int DIAGNOSTIC_CAP = MAX_LINE - "Diagnostic-Code: X-Portcullis; ".length();
    private static final String CRLF = "\r\n";
    private static final String ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static final Pattern HOST = Pattern.compile(
            "[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?|\\[[A-Za-z0-9:.]{1,60}\\]");
    private static final Pattern STATUS = Pattern.compile("[245]\\.\\d{1,3}\\.\\d{1,3}"); // RFC 3463 2
    private static final Pattern SMTP_REPLY = Pattern.compile("[2-5]\\d\\d(?:[ -]|$)");   // RFC 5321 4.2
    private static final DateTimeFormatter RFC5322_DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);     // RFC 5322 3.3
    private static final MimeConfig STRICT = new MimeConfig.Builder().setStrictParsing(true)
            .setMaxLineLen(-1).setMaxHeaderCount(-1).setMaxHeaderLen(-1).setMaxContentLen(-1).build();
    private static final List<String> TOP_FIELDS = List.of(
            "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type");
    private static final List<String> PART_TYPES = List.of("text/plain", "message/delivery-status", "text/rfc822-headers");

    private final String hostname;
    private final ZoneId zone;
    private final RandomGenerator random;

    /**
     * @param hostname this server's name: the From: is {@code Mail Delivery System <MAILER-DAEMON@hostname>},
     *                 and Message-IDs end in it
     * @param zone     the time zone of the Date fields
     */
    public DsnBuilder(String hostname, ZoneId zone) {
        this(hostname, zone, new SecureRandom());
    }

    DsnBuilder(String hostname, ZoneId zone, RandomGenerator random) {
        this.hostname = host(hostname);
        this.zone = Objects.requireNonNull(zone, "zone");
        this.random = Objects.requireNonNull(random, "random");
    }

    @Override
    public byte[] build(String reportingMta, Envelope original, List<RecipientOutcome> outcomes,
                        InputStream originalContent, Instant now) throws IOException {
        return build(reportingMta, original, outcomes, originalContent, now, null);
    }

    /**
     * As {@link #build(String, Envelope, List, InputStream, Instant)}, saying in a delay warning until when
     * delivery will be attempted: {@code retryUntil} goes into the text and, for each delayed recipient,
     * into a Will-Retry-Until field (RFC 3464 2.3.9). Null: "will keep trying", no date.
     *
     * @throws IllegalArgumentException the sender is the null sender (a DSN about a DSN is never sent,
     *         RFC 3464 2, RFC 5321 4.5.5), {@code outcomes} has no FAILED or DELAYED recipient (DELIVERED ones
     *         are not reported), or {@code reportingMta} is not a host name
     */
    public byte[] build(String reportingMta, Envelope original, List<RecipientOutcome> outcomes,
                        InputStream originalContent, Instant now, Instant retryUntil) throws IOException {
        Objects.requireNonNull(original, "original");
        Objects.requireNonNull(originalContent, "originalContent");
        Objects.requireNonNull(now, "now");
        String mta = host(reportingMta);
        if (original.sender().isNull()) {
            throw new IllegalArgumentException(original.queueId() + ": no DSN for a message from the null sender");
        }
        List<RecipientOutcome> reported = outcomes.stream().filter(o -> o.action() != Action.DELIVERED).toList();
        if (reported.isEmpty()) throw new IllegalArgumentException(original.queueId() + ": no failed or delayed recipient");
        boolean failure = reported.stream().anyMatch(o -> o.action() == Action.FAILED);

        HeaderSection header = HeaderSection.read(originalContent, HEADER_CAP);
        List<Part> parts = List.of(
                textPart("Notification", notification(mta, original, reported, retryUntil, header)),
                new Part(List.of("Content-Description: Delivery report", "Content-Type: message/delivery-status"),
                        deliveryStatus(mta, original, reported, now, retryUntil)),
                headerPart(header));

        String boundary;
        do {
            boundary = boundary(random);
        } while (occursIn(boundary, parts));

        StringBuilder top = new StringBuilder(512);
        top.append("From: Mail Delivery System <MAILER-DAEMON@").append(hostname).append('>').append(CRLF);
        top.append(field("To", "<" + original.sender().mailbox() + ">", false));
        top.append("Subject: ").append(failure ? "Undelivered Mail Returned to Sender"
                : "Delivery Status Notification (Delay)").append(CRLF);
        top.append("Date: ").append(date(now)).append(CRLF);
        top.append("Message-ID: <").append(Long.toString(now.toEpochMilli(), 36)).append('.')
                .append(token(random, 16)).append(".dsn@").append(hostname).append('>').append(CRLF);
        top.append("Auto-Submitted: auto-replied").append(CRLF);                 // RFC 3834 5
        top.append("MIME-Version: 1.0").append(CRLF);
        top.append("Content-Type: multipart/report; report-type=delivery-status;").append(CRLF)
                .append("\tboundary=\"").append(boundary).append('"').append(CRLF);  // RFC 6522 3
        top.append(CRLF);
        top.append("This is a MIME-encapsulated message: a delivery status notification (RFC 3464).").append(CRLF);

        ByteArrayOutputStream out = new ByteArrayOutputStream(4096 + header.text().length * 3);
        out.writeBytes(top.toString().getBytes(StandardCharsets.UTF_8));
        for (Part part : parts) {
            out.writeBytes(ascii(CRLF + "--" + boundary + CRLF));
            for (String line : part.header()) out.writeBytes(ascii(line + CRLF));
            out.writeBytes(ascii(CRLF));
            out.writeBytes(part.body());                   // empty, or ends in CRLF: kept by the blank line below
        }
        out.writeBytes(ascii(CRLF + "--" + boundary + "--" + CRLF));
        byte[] message = out.toByteArray();
        verify(message);
        return message;
    }

    /** A body part: its header lines (ours, ASCII) and its body (encoded; empty or ending in CRLF). */
    private record Part(List<String> header, byte[] body) {}

    // ---------------------------------------------------------------------------------------- part 1

    private String notification(String mta, Envelope original, List<RecipientOutcome> reported, Instant retryUntil,
                                HeaderSection header) {
        List<String> lines = new ArrayList<>();
        wrap(lines, "", "This is the mail system at host " + mta + ".");
        lines.add("");
        List<RecipientOutcome> failed = reported.stream().filter(o -> o.action() == Action.FAILED).toList();
        List<RecipientOutcome> delayed = reported.stream().filter(o -> o.action() == Action.DELAYED).toList();
        if (!failed.isEmpty()) {
            wrap(lines, "", "Your message could not be delivered to the recipients below. The errors are permanent:"
                    + " the mail system has given up and will not try to deliver it to them again.");
            lines.add("");
            for (RecipientOutcome o : failed) explain(lines, o);
        }
        if (!delayed.isEmpty()) {
            String until = retryUntil == null ? "" : " until " + date(retryUntil);
            wrap(lines, "", "Your message has not yet been delivered to the recipients below. This is only a warning:"
                    + " the mail system will keep trying" + until + ". You do not need to send the message again;"
                    + " you will be told if delivery finally fails.");
            lines.add("");
            for (RecipientOutcome o : delayed) explain(lines, o);
        }
        String arrival = "";
        if (original.received() != null) {
            String id = oneLine(original.queueId());
            arrival = "Your message arrived here on " + date(original.received())
                    + (id.isEmpty() ? ". " : " (queue id " + cap(id, 64) + "). ");
        }
        wrap(lines, "", arrival + (header.truncated()
                ? "The first " + HEADER_CAP / 1024 + " KB of its header are attached below (the rest of the header"
                        + " was too long to return); its body is not."
                : "Its header is attached below; its body is not."));
        lines.add("");
        wrap(lines, "", "If you need help, forward this report to your postmaster.");
        return String.join(CRLF, lines) + CRLF;
    }

    /** "<rcpt>" and, indented under it, what went wrong in plain words. */
    private static void explain(List<String> lines, RecipientOutcome o) {
        wrap(lines, "", "<" + cap(oneLine(o.recipient().mailbox()), 512) + ">");
        Diagnostic d = Diagnostic.of(o.diagnostic());
        String remote = o.remoteMta() == null ? "" : cap(oneLine(o.remoteMta()), 255);
        String why;
        if (d == null) {
            why = remote.isEmpty() ? "status " + status(o) : "host " + remote + ": status " + status(o);
        } else if (d.smtp()) {
            why = (remote.isEmpty() ? "the remote server said: " : "host " + remote + " said: ") + d.text();
        } else {
            why = d.text();
        }
        wrap(lines, "    ", cap(why, DIAGNOSTIC_CAP));
        lines.add("");
    }

    // ---------------------------------------------------------------------------------------- part 2

    /** The message/delivery-status body: per-message fields, then a block per recipient (RFC 3464 2.1). */
    private byte[] deliveryStatus(String mta, Envelope original, List<RecipientOutcome> reported, Instant now,
                                  Instant retryUntil) {
        StringBuilder s = new StringBuilder(512 + reported.size() * 256);
        String envid = original.mailParameters().get("ENVID");
        if (envid != null && !oneLine(xtextDecode(envid)).isEmpty()) {
            s.append(field("Original-Envelope-Id", xtextDecode(envid), true));                   // 2.2.1
        }
        s.append(field("Reporting-MTA", "dns; " + mta, true));                                   // 2.2.2
        if (original.received() != null) s.append("Arrival-Date: ").append(date(original.received())).append(CRLF);
        if (original.queueId() != null && !oneLine(original.queueId()).isEmpty()) {
            s.append(field("X-Portcullis-Queue-ID", original.queueId(), true));                  // 2.4 extension
        }
        for (RecipientOutcome o : reported) {
            s.append(CRLF);
            s.append(field("Final-Recipient", addressField(o.recipient()), true));               // 2.3.2
            s.append("Action: ").append(o.action() == Action.FAILED ? "failed" : "delayed").append(CRLF);
            s.append("Status: ").append(status(o)).append(CRLF);
            if (o.remoteMta() != null && !oneLine(o.remoteMta()).isEmpty()) {
                s.append(field("Remote-MTA", "dns; " + o.remoteMta(), true));                    // 2.3.5
            }
            Diagnostic d = Diagnostic.of(o.diagnostic());
            if (d != null) s.append(field("Diagnostic-Code", d.type() + "; " + d.text(), true)); // 2.3.6
            s.append("Last-Attempt-Date: ").append(date(now)).append(CRLF);
            if (o.action() == Action.DELAYED && retryUntil != null) {
                s.append("Will-Retry-Until: ").append(date(retryUntil)).append(CRLF);
            }
        }
        return ascii(s.toString());
    }

    /**
     * An address as RFC 3464 2.3.2 types it: {@code rfc822; local@domain}, or for a UTF-8 address
     * {@code utf-8; } and the utf-8-addr-xtext form of RFC 6533 3 (7-bit, so it fits message/delivery-status).
     */
    static String addressField(Address address) {
        String mailbox = oneLine(address.mailbox());
        if (mailbox.chars().allMatch(c -> c < 0x7f)) return "rfc822; " + mailbox;
        StringBuilder x = new StringBuilder("utf-8; ");
        mailbox.codePoints().forEach(cp -> {
            // QCHAR: printable ASCII but SP, "\", "+" and "="; everything else as \x{HEX}, no leading zeros
            if (cp > 0x20 && cp < 0x7f && cp != '\\' && cp != '+' && cp != '=') x.appendCodePoint(cp);
            else x.append("\\x{").append(String.format(Locale.ROOT, "%02X", cp)).append('}');
        });
        return x.toString();
    }

    /** The RFC 3463 code to report: the outcome's if well formed and of the action's class, else X.0.0. */
    static String status(RecipientOutcome o) {
        String s = o.status() == null ? "" : o.status().strip();
        if (STATUS.matcher(s).matches()) {
            // failed: 5.x.x, or 4.x.x for a temporary error that outlived the queue lifetime; delayed: 4.x.x
            if (o.action() == Action.FAILED ? s.charAt(0) != '2' : s.charAt(0) == '4') return s;
        }
        return o.action() == Action.FAILED ? "5.0.0" : "4.0.0";
    }

    /** The diagnostic as RFC 3464 2.3.6 types it: a remote's reply is "smtp", our own words an X- type. */
    private record Diagnostic(String type, String text) {
        static Diagnostic of(String untrusted) {
            if (untrusted == null) return null;
            String t = oneLine(untrusted);
            if (t.regionMatches(true, 0, "smtp;", 0, 5)) {
                t = t.substring(5).strip();
                return t.isEmpty() ? null : new Diagnostic("smtp", t);
            }
            if (t.isEmpty()) return null;
            return new Diagnostic(SMTP_REPLY.matcher(t).lookingAt() ? "smtp" : "X-Portcullis", t);
        }

        boolean smtp() { return type.equals("smtp"); }
    }

    /** RFC 3461 4: "+" and two hex digits stand for one octet. Malformed escapes are kept as they are. */
    static String xtextDecode(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '+' && i + 2 < s.length() && hex(s.charAt(i + 1)) && hex(s.charAt(i + 2))) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private static boolean hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); }

    // ---------------------------------------------------------------------------------------- part 3

    private static Part headerPart(HeaderSection header) {
        String description = "Content-Description: Undelivered Message Headers" + (header.truncated() ? " (truncated)" : "");
        if (!header.eightBit()) {
            return new Part(List.of(description, "Content-Type: text/rfc822-headers"), header.text());
        }
        return new Part(List.of(description, "Content-Type: text/rfc822-headers",
                "Content-Transfer-Encoding: quoted-printable"), quotedPrintable(header.text()));
    }

    // ---------------------------------------------------------------------------------------- text

    private static Part textPart(String description, String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (utf8.length == text.length()) {
            return new Part(List.of("Content-Description: " + description, "Content-Type: text/plain; charset=us-ascii",
                    "Content-Transfer-Encoding: 7bit"), utf8);
        }
        return new Part(List.of("Content-Description: " + description, "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: quoted-printable"), quotedPrintable(utf8));
    }

    /**
     * Untrusted text as one line: C0 and C1 controls, DEL, format characters (bidi overrides, zero-width
     * ones), line and paragraph separators and other spaces become a space; runs of spaces become one; the
     * ends are trimmed. A lone surrogate becomes "?". Reads at most what any caller could keep.
     */
    static String oneLine(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder(Math.min(s.length(), 1024));
        boolean space = false;
        for (int i = 0; i < s.length() && b.length() < 4 * MAX_LINE; ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            int type = Character.getType(cp);
            if (cp <= ' ' || type == Character.CONTROL || type == Character.FORMAT || type == Character.LINE_SEPARATOR
                    || type == Character.PARAGRAPH_SEPARATOR || type == Character.SPACE_SEPARATOR) {
                space = true;
                continue;
            }
            if (type == Character.SURROGATE) cp = '?';
            if (space && !b.isEmpty()) b.append(' ');
            space = false;
            b.appendCodePoint(cp);
        }
        return b.toString();
    }

    /** s cut to at most maxOctets of UTF-8, "..." marking a cut. */
    static String cap(String s, int maxOctets) {
        if (s.getBytes(StandardCharsets.UTF_8).length <= maxOctets) return s;
        StringBuilder b = new StringBuilder();
        int octets = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (octets + n > maxOctets - 3) break;
            b.appendCodePoint(cp);
            octets += n;
            i += Character.charCount(cp);
        }
        return b.toString().stripTrailing() + "...";
    }

    /**
     * One header (or delivery-status) field carrying untrusted text, with its CRLF: the value on one line
     * (oneLine), ASCII only if {@code ascii} (others become "?"), cut so that "Name: value" fits in 998
     * octets, then folded before spaces at about 78 columns (RFC 5322 2.2.3). Every continuation line
     * starts with a space and holds a word, so the value can neither start a field nor end the header.
     */
    static String field(String name, String untrusted, boolean ascii) {
        String value = oneLine(untrusted);
        if (ascii) value = value.codePoints().map(cp -> cp < 0x7f ? cp : '?')
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        value = cap(value, MAX_LINE - name.length() - 2);
        StringBuilder out = new StringBuilder(name.length() + value.length() + 16).append(name).append(':');
        int column = name.length() + 1;
        int wordsOnLine = 0;                                  // value words on the current line
        for (String word : value.split(" ")) {
            if (word.isEmpty()) continue;
            if (wordsOnLine > 0 && column + 1 + word.length() > FOLD_AT) {
                out.append(CRLF);
                column = 0;
                wordsOnLine = 0;
            }
            out.append(' ').append(word);
            column += 1 + word.length();
            wordsOnLine++;
        }
        return out.append(CRLF).toString();
    }

    /** Appends {@code text} as lines of about 76 columns, each starting with {@code indent}; long words cut. */
    static void wrap(List<String> lines, String indent, String text) {
        StringBuilder line = new StringBuilder(indent);
        for (String word : oneLine(text).split(" ")) {
            if (word.isEmpty()) continue;
            while (word.codePointCount(0, word.length()) > LONGEST_WORD) {
                int cut = word.offsetByCodePoints(0, LONGEST_WORD);
                if (line.length() > indent.length()) lines.add(line.toString());
                lines.add(indent + word.substring(0, cut));
                line.setLength(0);
                line.append(indent);
                word = word.substring(cut);
            }
            if (line.length() > indent.length() && line.length() + 1 + word.length() > TEXT_WIDTH) {
                lines.add(line.toString());
                line.setLength(0);
                line.append(indent);
            }
            if (line.length() > indent.length()) line.append(' ');
            line.append(word);
        }
        if (line.length() > indent.length()) lines.add(line.toString());
    }

    // ---------------------------------------------------------------------------------------- envelope of it all

    private String date(Instant t) { return RFC5322_DATE.format(t.atZone(zone)); }

    /** A boundary: "=_" (never in quoted-printable output), "dsn", 32 random letters and digits. */
    static String boundary(RandomGenerator random) { return "=_dsn_" + token(random, 32); }

    private static String token(RandomGenerator random, int length) {
        StringBuilder b = new StringBuilder(length);
        for (int i = 0; i < length; i++) b.append(ALNUM.charAt(random.nextInt(ALNUM.length())));
        return b.toString();
    }

    private static boolean occursIn(String boundary, List<Part> parts) {
        byte[] needle = ascii(boundary);
        for (Part p : parts) {
            if (indexOf(p.body(), needle) >= 0) return true;
            for (String line : p.header()) if (line.contains(boundary)) return true;
        }
        return false;
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    private static String host(String name) {
        if (name == null || !HOST.matcher(name).matches()) {
            throw new IllegalArgumentException("not a host name: " + (name == null ? null : oneLine(name)));
        }
        return name;
    }

    private static byte[] ascii(String s) { return s.getBytes(StandardCharsets.US_ASCII); }

    /** Quoted-printable (RFC 2045 6.7) of CRLF text: lines of at most 76 octets, every octet 7-bit. */
    private static byte[] quotedPrintable(byte[] text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length * 3 / 2 + 16);
        try (QuotedPrintableOutputStream qp = new QuotedPrintableOutputStream(out, false)) {
            qp.write(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);                // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    /**
     * The last line of defence: the finished message must have CRLF lines of at most 998 octets, parse
     * with Mime4j in strict mode, and have exactly our header fields and our three parts. A failure here is
     * a bug in this class, never something a remote server can choose, so it throws rather than send.
     */
    static void verify(byte[] message) {
        int length = 0;
        for (int i = 0; i < message.length; i++) {
            byte b = message[i];
            if (b == '\r') {
                if (i + 1 == message.length || message[i + 1] != '\n') throw broken("bare CR at " + i);
                i++;
                length = 0;
            } else if (b == '\n') {
                throw broken("bare LF at " + i);
            } else if (++length > MAX_LINE) {
                throw broken("line longer than " + MAX_LINE + " octets at " + i);
            }
        }
        if (length != 0) throw broken("no CRLF at the end");

        List<String> top = new ArrayList<>();
        List<String> types = new ArrayList<>();
        String topType = null;
        String boundary = null;
        int depth = 0;
        MimeTokenStream parser = new MimeTokenStream(STRICT);
        parser.setRecursionMode(RecursionMode.M_NO_RECURSE);
        parser.parse(new ByteArrayInputStream(message));
        try {
            for (EntityState s = parser.getState(); s != EntityState.T_END_OF_STREAM; s = parser.next()) {
                switch (s) {
                    case T_FIELD -> { if (depth == 0) top.add(parser.getField().getName()); }
                    case T_START_MULTIPART -> {
                        if (depth == 0) {
                            topType = parser.getBodyDescriptor().getMimeType();
                            boundary = parser.getBodyDescriptor().getBoundary();
                        }
                    }
                    case T_START_BODYPART -> depth++;
                    case T_END_BODYPART -> depth--;
                    case T_BODY -> { if (depth == 1) types.add(parser.getBodyDescriptor().getMimeType()); }
                    default -> { }
                }
            }
        } catch (MimeException | IOException e) {
            throw broken("does not parse: " + e.getMessage());
        }
        if (!TOP_FIELDS.equals(top)) throw broken("header fields " + top);
        if (!"multipart/report".equals(topType)) throw broken("type " + topType);
        if (!PART_TYPES.equals(types)) throw broken("parts " + types);
        // Lenient readers take any line that starts with the delimiter for one (RFC 2046 5.1.1 forbids it
        // in the content): three delimiters and the close, and no other line may.
        String delimiter = "\r\n--" + boundary;
        String all = new String(message, StandardCharsets.ISO_8859_1);
        int count = 0;
        for (int i = all.indexOf(delimiter); i >= 0; i = all.indexOf(delimiter, i + 1)) count++;
        if (count != 4) throw broken(count + " lines start with the boundary");
    }

    private static IllegalStateException broken(String what) {
        return new IllegalStateException("DSN failed its own check: " + what);
    }
}
