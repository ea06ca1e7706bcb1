package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/*
 * The envelope header at the start of every queue file, and the recipient lines of the .done files.
 *
 *   portcullis-queue 1                  version line; any other version is refused, not guessed at
 *   id +01J2X3Y4Z5ABCDEF                 must equal the file name
 *   sender +local +domain +raw          an Address is three tokens: localPart, domain, raw
 *   rcpt +local +domain +raw            zero or more, in envelope order
 *   received +2024-05-01T12:00:00.123456Z   Instant.toString, exact to the nanosecond
 *   client +192.0.2.1
 *   helo -                              "-" is null
 *   auth -
 *   param +SIZE +1234                   zero or more, sorted by key
 *   (empty line)
 *   content bytes, verbatim (CRLF lines as received)
 *
 * Lines end in LF and are pure ASCII. A token is "-" (null) or "+" followed by the value's UTF-8 bytes
 * with everything outside [A-Za-z0-9.:_@-] written as %XX, so the empty string is "+" and no value can
 * ever contain the space, CR or LF the format splits on, whatever the SMTP layer lets through (quoted
 * local parts with spaces and '@', percent hacks, RFC 6531 UTF-8). Invalid UTF-8 is refused on both sides
 * rather than silently replaced: an address must round-trip exactly, since done() compares records.
 *
 * The header is read byte by byte from a buffered stream up to the empty line, so the caller is left
 * positioned at the first content byte without ever loading the content.
 */
final class EnvelopeFormat {

    static final String MAGIC = "portcullis-queue";
    static final int VERSION = 1;

    /** A corrupt file must not make us read gigabytes looking for a newline. */
    private static final int MAX_LINE = 1 << 20;
    private static final int MAX_HEADER = 64 << 20;

    private static final String NULL = "-";
    private static final String VALUE = "+";
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private EnvelopeFormat() {}

    static byte[] header(Envelope e) throws IOException {
        StringBuilder sb = new StringBuilder(256);
        sb.append(MAGIC).append(' ').append(VERSION).append('\n');
        sb.append("id ").append(token(e.queueId())).append('\n');
        sb.append("sender ").append(address(e.sender())).append('\n');
        for (Address r : e.recipients()) sb.append("rcpt ").append(address(r)).append('\n');
        sb.append("received ").append(token(e.received() == null ? null : e.received().toString())).append('\n');
        sb.append("client ").append(token(e.clientAddress())).append('\n');
        sb.append("helo ").append(token(e.helo())).append('\n');
        sb.append("auth ").append(token(e.authUser())).append('\n');
        for (Map.Entry<String, String> p : new TreeMap<>(e.mailParameters()).entrySet())
            sb.append("param ").append(token(p.getKey())).append(' ').append(token(p.getValue())).append('\n');
        sb.append('\n');
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Reads the header and leaves {@code in} at the first content byte. {@code in} must be buffered:
     * it is read one byte at a time.
     */
    static Envelope read(InputStream in, String expectedId) throws IOException {
        String first = line(in, 0);
        if (!first.equals(MAGIC + " " + VERSION))
            throw corrupt(expectedId, "not a version " + VERSION + " queue file: " + abbreviate(first));
        int consumed = first.length() + 1;
        Map<String, String> scalars = new HashMap<>();
        Address sender = null;
        List<Address> rcpts = new ArrayList<>();
        Map<String, String> params = new HashMap<>();
        for (String l = line(in, consumed); !l.isEmpty(); l = line(in, consumed)) {
            consumed += l.length() + 1;
            String[] f = l.split(" ", -1);
            switch (f[0]) {
                case "sender" -> {
                    if (sender != null) throw corrupt(expectedId, "two sender lines");
                    sender = address(f, expectedId);
                }
                case "rcpt" -> rcpts.add(address(f, expectedId));
                case "param" -> {
                    if (f.length != 3) throw corrupt(expectedId, "bad param line");
                    String key = untoken(f[1], expectedId), value = untoken(f[2], expectedId);
                    if (key == null || value == null || params.put(key, value) != null)
                        throw corrupt(expectedId, "bad param line");
                }
                case "id", "received", "client", "helo", "auth" -> {
                    if (f.length != 2) throw corrupt(expectedId, "bad " + f[0] + " line");
                    if (scalars.containsKey(f[0])) throw corrupt(expectedId, "two " + f[0] + " lines");
                    scalars.put(f[0], untoken(f[1], expectedId));
                }
                default -> throw corrupt(expectedId, "unknown line " + abbreviate(f[0]));
            }
        }
        for (String k : List.of("id", "received", "client", "helo", "auth"))
            if (!scalars.containsKey(k)) throw corrupt(expectedId, "no " + k + " line");
        if (sender == null) throw corrupt(expectedId, "no sender line");
        String id = scalars.get("id");
        if (!expectedId.equals(id)) throw corrupt(expectedId, "header names queue id " + abbreviate(String.valueOf(id)));
        Instant received;
        try {
            received = scalars.get("received") == null ? null : Instant.parse(scalars.get("received"));
        } catch (DateTimeException ex) {
            throw corrupt(expectedId, "bad received time");
        }
        return new Envelope(id, sender, rcpts, received, scalars.get("client"), scalars.get("helo"),
                scalars.get("auth"), params);
    }

    /** One recipient as a .done line, without the line end. */
    static String address(Address a) throws IOException {
        return token(a.localPart()) + " " + token(a.domain()) + " " + token(a.raw());
    }

    static Address parseAddress(String line, String queueId) throws IOException {
        String[] f = ("x " + line).split(" ", -1);
        return address(f, queueId);
    }

    private static Address address(String[] f, String queueId) throws IOException {
        if (f.length != 4) throw corrupt(queueId, "bad " + f[0] + " line");
        String local = untoken(f[1], queueId), domain = untoken(f[2], queueId), raw = untoken(f[3], queueId);
        if (local == null || domain == null || raw == null) throw corrupt(queueId, "null in an address");
        // Address keeps the domain in lower case, so what we wrote is already what we get back.
        return new Address(local, domain, raw);
    }

    static String token(String s) throws CharacterCodingException {
        if (s == null) return NULL;
        if (allSafe(s)) return VALUE + s;   // the usual case (ids, domains, plain addresses): nothing to encode
        ByteBuffer utf8 = StandardCharsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .encode(CharBuffer.wrap(s));
        StringBuilder sb = new StringBuilder(utf8.remaining() + 1).append(VALUE);
        while (utf8.hasRemaining()) {
            int b = utf8.get() & 0xff;
            if (safe(b)) sb.append((char) b);
            else sb.append('%').append(HEX[b >> 4]).append(HEX[b & 0xf]);
        }
        return sb.toString();
    }

    static String untoken(String t, String queueId) throws IOException {
        if (t.equals(NULL)) return null;
        if (!t.startsWith(VALUE)) throw corrupt(queueId, "bad token " + abbreviate(t));
        ByteBuffer bytes = ByteBuffer.allocate(t.length());
        for (int i = 1; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c == '%' && i + 2 < t.length() && hex(t.charAt(i + 1)) >= 0 && hex(t.charAt(i + 2)) >= 0) {
                bytes.put((byte) (hex(t.charAt(i + 1)) << 4 | hex(t.charAt(i + 2))));
                i += 2;
            } else if (c < 128 && safe(c)) {
                bytes.put((byte) c);
            } else {
                throw corrupt(queueId, "bad token " + abbreviate(t));
            }
        }
        bytes.flip();
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes).toString();
        } catch (CharacterCodingException ex) {
            throw corrupt(queueId, "invalid UTF-8 in a token");
        }
    }

    private static boolean allSafe(String s) {
        for (int i = 0; i < s.length(); i++) if (!safe(s.charAt(i))) return false;
        return true;
    }

    private static boolean safe(int b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
                || b == '.' || b == ':' || b == '_' || b == '@' || b == '-';
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    /** One LF-terminated ASCII line, without the LF. */
    private static String line(InputStream in, int consumed) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(80);
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) throw new EOFException("queue file ends inside its envelope header");
            if (b >= 128 || b == '\r') throw new IOException("queue file header is not LF-terminated ASCII");
            if (buf.size() >= MAX_LINE || consumed + buf.size() >= MAX_HEADER)
                throw new IOException("queue file header line too long");
            buf.write(b);
        }
        return buf.toString(StandardCharsets.US_ASCII);
    }

    private static IOException corrupt(String queueId, String why) {
        return new IOException("corrupt queue file " + queueId + ": " + why);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
