package dev.portcullis.pickup;

import dev.portcullis.hook.Address;
import dev.portcullis.queue.QueueIds;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/*
 * What `portcullis sendmail` does to a message before it is dropped: sendmail's input rules, recipients
 * from the header with -t, and the header fields RFC 5322 3.6 requires.
 *
 * - Input ends at EOF, or (without -i / -oi) at a line consisting of a single "." (sendmail's rule; no
 *   dot-unstuffing: this is not SMTP). Line ends become CRLF; a bare CR is dropped (Maildrop.crlf).
 * - The header is the lines up to the first empty line, or up to the first line that is neither a field
 *   ("Name: value") nor a continuation of one: then the rest is body and an empty line is inserted (so
 *   `echo hello | sendmail root` gives a message whose body is "hello"). A leading mbox "From " line is
 *   dropped, as sendmail and Postfix do.
 * - With -t, recipients come from To:, Cc: and Bcc: (RFC 5322 3.4 address lists, AddressList); the
 *   command-line recipients are added to them (Postfix's behaviour; Sendmail 8 subtracts them instead).
 * - Bcc: is always removed (RFC 5322 3.6.3: the recipients must not see it), with or without -t.
 * - From:, Date: and Message-ID: are added when missing (RFC 5322 3.6: From and Date are required,
 *   Message-ID should be present), at the end of the header.
 * - Addresses without a domain ("root") are qualified with the server's hostname, as sendmail does.
 * - The size limit is the server's [smtp] max_message_size, applied to the finished message.
 */
public final class Submission {

    public static final int EX_USAGE = 64, EX_DATAERR = 65;

    private static final DateTimeFormatter RFC5322_DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final byte[] CRLF = {'\r', '\n'};
    private static final int MAX_NAME = 256;

    /** The message cannot be submitted; {@code exitCode} is the sysexits.h code to exit with. */
    public static final class Refused extends Exception {
        private final int exitCode;

        Refused(int exitCode, String message) {
            super(message, null, false, false);
            this.exitCode = exitCode;
        }

        public int exitCode() { return exitCode; }
    }

    /**
     * @param sender    the -f argument, or null for {@code user@hostname}
     * @param fullName  the -F argument, or null
     * @param user      the Unix user running the command
     */
    public record Request(boolean extractRecipients, boolean dotEnds, String sender, String fullName,
                          List<String> recipients, String user, String hostname, long maxMessageSize, Clock clock) {
        public Request {
            recipients = List.copyOf(recipients);
        }
    }

    /** The envelope and the finished message (CRLF line ends). */
    public record Result(Address sender, List<Address> recipients, byte[] message) {}

    private Submission() {}

    public static Result prepare(Request r, InputStream in) throws Refused, IOException {
        Address userAddress = Address.of(localPartFor(r.user()), r.hostname());
        Address sender = userAddress;
        if (r.sender() != null) {
            try {
                sender = AddressList.parseMailbox(r.sender(), r.hostname());
            } catch (AddressList.SyntaxException e) {
                throw new Refused(EX_USAGE, "bad sender address given with -f: " + e.getMessage());
            }
        }
        Set<Address> recipients = new LinkedHashSet<>();
        List<Address> fromArguments = new ArrayList<>();
        for (String arg : r.recipients()) {
            try {
                fromArguments.addAll(AddressList.parse(arg, r.hostname()));
            } catch (AddressList.SyntaxException e) {
                throw new Refused(EX_USAGE, "bad recipient address: " + e.getMessage());
            }
        }
        // Say so at once rather than wait for a message on standard input that cannot be sent anyway.
        if (!r.extractRecipients() && fromArguments.isEmpty())
            throw new Refused(EX_USAGE, "no recipients: give them as arguments, or use -t to read To:, Cc: and Bcc:");

        List<byte[]> lines = lines(read(in, r.dotEnds(), r.maxMessageSize()));

        // ---- split the header from the body
        int i = 0;
        if (!lines.isEmpty() && startsWith(lines.getFirst(), "From ")) i = 1;  // mbox From_ line
        List<Field> fields = new ArrayList<>();
        int bodyStart = lines.size();
        for (; i < lines.size(); i++) {
            byte[] l = lines.get(i);
            if (l.length == 0) { bodyStart = i + 1; break; }
            if ((l[0] == ' ' || l[0] == '\t') && !fields.isEmpty()) { fields.getLast().lines.add(l); continue; }
            String name = fieldName(l);
            if (name == null) { bodyStart = i; break; }   // not a header line: the body starts here
            Field f = new Field(name);
            f.lines.add(l);
            fields.add(f);
        }

        if (r.extractRecipients()) {
            for (Field f : fields) {
                if (!f.is("To") && !f.is("Cc") && !f.is("Bcc")) continue;
                try {
                    recipients.addAll(AddressList.parse(f.value(), r.hostname()));
                } catch (AddressList.SyntaxException e) {
                    throw new Refused(EX_DATAERR, "cannot read the recipients of the " + f.name + ": header: " + e.getMessage());
                }
            }
        }
        recipients.addAll(fromArguments);
        if (recipients.isEmpty())
            throw new Refused(EX_USAGE, "no recipients: no addresses in To:, Cc: or Bcc: and none given as arguments");

        // ---- write the finished message
        ByteArrayOutputStream out = new ByteArrayOutputStream(lines.size() * 40 + 256);
        for (Field f : fields) {
            if (f.is("Bcc")) continue;
            for (byte[] l : f.lines) line(out, l);
        }
        if (fields.stream().noneMatch(f -> f.is("From"))) {
            Address from = sender.isNull() ? userAddress : sender;
            String name = cleanName(r.fullName());
            line(out, ("From: " + (name.isEmpty() ? from.mailbox() : phrase(name) + " <" + from.mailbox() + ">"))
                    .getBytes(StandardCharsets.UTF_8));
        }
        if (fields.stream().noneMatch(f -> f.is("Date")))
            line(out, ("Date: " + ZonedDateTime.now(r.clock()).format(RFC5322_DATE)).getBytes(StandardCharsets.US_ASCII));
        if (fields.stream().noneMatch(f -> f.is("Message-ID")))
            line(out, ("Message-ID: <" + QueueIds.next() + "." + HexFormat.of().formatHex(randomBytes(4)) + "@"
                    + r.hostname() + ">").getBytes(StandardCharsets.US_ASCII));
        out.write(CRLF, 0, 2);
        for (int b = bodyStart; b < lines.size(); b++) line(out, lines.get(b));
        if (out.size() > r.maxMessageSize()) throw tooBig(r.maxMessageSize());
        return new Result(sender, List.copyOf(recipients), out.toByteArray());
    }

    /**
     * Reads the message: stops at EOF or, when {@code dotEnds}, at a line of a single "."; returns it with
     * CRLF line ends. Refuses (without reading on) as soon as it is over {@code limit}.
     */
    static byte[] read(InputStream in, boolean dotEnds, long limit) throws IOException, Refused {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        byte[] buf = new byte[8192];
        for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
            for (int k = 0; k < n; k++) {
                byte b = buf[k];
                if (b == '\r') continue;
                if (b == '\n') {
                    if (dotEnds && isDot(line)) return out.toByteArray();
                    line.writeTo(out);
                    out.write(CRLF, 0, 2);
                    line.reset();
                } else {
                    if (b == 0) throw new Refused(EX_DATAERR, "the message contains a NUL byte (RFC 5322 forbids it; encode binary data)");
                    line.write(b);
                }
                if ((long) out.size() + line.size() > limit) throw tooBig(limit);
            }
        }
        if (line.size() > 0 && !(dotEnds && isDot(line))) {
            line.writeTo(out);
            out.write(CRLF, 0, 2);
            if (out.size() > limit) throw tooBig(limit);
        }
        return out.toByteArray();
    }

    private static boolean isDot(ByteArrayOutputStream line) {
        return line.size() == 1 && line.toByteArray()[0] == '.';
    }

    private static Refused tooBig(long limit) {
        return new Refused(EX_DATAERR, "message too large: over " + limit + " bytes, the server's limit ([smtp] max_message_size)");
    }

    /** Splits CRLF text into lines without their CRLF. */
    private static List<byte[]> lines(byte[] text) {
        List<byte[]> out = new ArrayList<>();
        int start = 0;
        for (int k = 0; k + 1 < text.length; k++) {
            if (text[k] == '\r' && text[k + 1] == '\n') {
                out.add(java.util.Arrays.copyOfRange(text, start, k));
                start = k + 2;
                k++;
            }
        }
        return out;   // read() ends every line with CRLF, so nothing is left over
    }

    private static void line(ByteArrayOutputStream out, byte[] l) {
        out.write(l, 0, l.length);
        out.write(CRLF, 0, 2);
    }

    /** The field name of a header line (RFC 5322 2.2: printable ASCII but ':', then ':'), or null. */
    private static String fieldName(byte[] l) {
        for (int k = 0; k < l.length; k++) {
            byte b = l[k];
            if (b == ':') return k == 0 ? null : new String(l, 0, k, StandardCharsets.US_ASCII);
            if (b < 33 || b > 126) return null;
        }
        return null;
    }

    private static boolean startsWith(byte[] l, String prefix) {
        if (l.length < prefix.length()) return false;
        for (int k = 0; k < prefix.length(); k++) if (l[k] != prefix.charAt(k)) return false;
        return true;
    }

    private static final class Field {
        final String name;
        final List<byte[]> lines = new ArrayList<>(1);

        Field(String name) { this.name = name; }

        boolean is(String n) { return name.equalsIgnoreCase(n); }

        /** The unfolded value (RFC 5322 2.2.3: removing the CRLFs is the unfolding), read as UTF-8 (RFC 6532). */
        String value() {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (byte[] l : lines) all.write(l, 0, l.length);
            String s = all.toString(StandardCharsets.UTF_8);
            return s.substring(s.indexOf(':') + 1);
        }
    }

    /** The Unix user name as a local part: as it is when it is a dot-atom, else quoted. */
    static String localPartFor(String user) {
        String u = user == null || user.isEmpty() ? "nobody" : user;
        if (u.matches("[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")) return u;
        return "\"" + u.replaceAll("[\\x00-\\x1f\\x7f]", "").replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static String cleanName(String name) {
        if (name == null) return "";
        String s = name.replaceAll("[\\x00-\\x1f\\x7f]+", " ").strip();
        return s.length() <= MAX_NAME ? s : s.substring(0, MAX_NAME);
    }

    /**
     * A display name as an RFC 5322 phrase: atoms as they are, other ASCII as a quoted string, non-ASCII as
     * RFC 2047 encoded words (B encoding, at most 75 characters each, split between code points).
     */
    static String phrase(String name) {
        if (name.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            if (name.matches("[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")) return name;
            return "\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        }
        StringBuilder sb = new StringBuilder();
        StringBuilder chunk = new StringBuilder();
        int chunkBytes = 0;
        for (int k = 0; k < name.length(); ) {
            int cp = name.codePointAt(k);
            String c = new String(Character.toChars(cp));
            int len = c.getBytes(StandardCharsets.UTF_8).length;
            if (chunkBytes + len > 45) {   // 45 bytes = 60 base64 characters + 12 = 72 <= 75
                encodedWord(sb, chunk);
                chunk.setLength(0);
                chunkBytes = 0;
            }
            chunk.append(c);
            chunkBytes += len;
            k += Character.charCount(cp);
        }
        encodedWord(sb, chunk);
        return sb.toString();
    }

    private static void encodedWord(StringBuilder sb, CharSequence text) {
        if (text.isEmpty()) return;
        if (!sb.isEmpty()) sb.append(' ');
        sb.append("=?UTF-8?B?")
                .append(Base64.getEncoder().encodeToString(text.toString().getBytes(StandardCharsets.UTF_8)))
                .append("?=");
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
