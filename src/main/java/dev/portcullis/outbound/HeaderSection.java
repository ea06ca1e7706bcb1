package dev.portcullis.outbound;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.stream.EntityState;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.stream.MimeTokenStream;
import org.apache.james.mime4j.util.ByteSequence;

/*
 * The header section of a queued message, as a DSN quotes it (RFC 6522 text/rfc822-headers: the header
 * only, which keeps bounces small and returns none of the body).
 *
 * Invariants of text():
 *  - it comes from at most `cap` octets at the start of the message; reading stops at the blank line that
 *    ends the header section (or at the cap), so nothing after that line is ever used. A header section
 *    longer than the cap loses its last field (it may have been cut) and everything after: truncated() says so;
 *  - fields are split by Mime4j; lines that are no field (an mbox "From " line, garbage) are dropped;
 *  - every line ends in CRLF and has at most 998 octets (RFC 5322 2.1.1): a longer line is folded before
 *    whitespace where it has some, else cut, and the rest continues on a line that starts with a space.
 *    Every continuation line starts with whitespace, so the quoted fields stay the fields they were;
 *  - there are no control characters but HTAB: a bare CR, NUL and the like become spaces.
 * Non-ASCII octets are kept (an SMTPUTF8 header is UTF-8); eightBit() says whether there are any, and the
 * DSN then encodes this text as quoted-printable.
 */
final class HeaderSection {

    private static final int MAX_LINE = 998;
    private static final int CHUNK = 8192;
    /** Lenient, and without Mime4j's own limits: the cap bounds the input, and long lines are folded here. */
    private static final MimeConfig LENIENT = new MimeConfig.Builder()
            .setMaxLineLen(-1).setMaxHeaderCount(-1).setMaxHeaderLen(-1).build();

    private final byte[] text;
    private final boolean truncated;

    private HeaderSection(byte[] text, boolean truncated) {
        this.text = text;
        this.truncated = truncated;
    }

    /** The quoted header: complete fields, CRLF lines; empty if the message had no usable field. */
    byte[] text() { return text.clone(); }

    /** True when the header section was longer than the cap, so its last fields are missing. */
    boolean truncated() { return truncated; }

    boolean eightBit() {
        for (byte b : text) if (b < 0) return true;
        return false;
    }

    /** Reads the header section from the start of {@code content}, taking at most {@code cap} octets. */
    static HeaderSection read(InputStream content, int cap) throws IOException {
        byte[] buf = new byte[Math.min(cap, CHUNK)];
        int n = 0;              // octets read
        int pos = 0;            // octets scanned
        boolean lineStart = true;
        boolean eof = false;
        int end;                // the header section is buf[0, end)
        boolean truncated = false;
        scan:
        for (;;) {
            while (pos < n) {
                byte b = buf[pos];
                if (lineStart && b == '\n') { end = pos; break scan; }           // blank line (bare LF)
                if (lineStart && b == '\r') {
                    if (pos + 1 < n) {
                        if (buf[pos + 1] == '\n') { end = pos; break scan; }     // blank line
                    } else if (!eof && n < cap) {
                        break;                                                   // need the next octet to tell
                    }
                }
                lineStart = b == '\n';
                pos++;
            }
            if (eof) { end = n; break; }                // all header, no body
            if (n == cap) { end = n; truncated = true; break; }
            if (n == buf.length) buf = Arrays.copyOf(buf, Math.min(cap, buf.length * 2));
            int r = content.read(buf, n, buf.length - n);
            if (r < 0) eof = true; else n += r;
        }

        List<ByteSequence> fields = fields(buf, end);
        if (truncated && !fields.isEmpty()) fields.remove(fields.size() - 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream(end + end / 64 + 16);
        for (ByteSequence field : fields) appendField(field, out);
        return new HeaderSection(out.toByteArray(), truncated);
    }

    /** The raw fields (folding and all) of buf[0, end), as Mime4j splits them; invalid lines are skipped. */
    private static List<ByteSequence> fields(byte[] buf, int end) {
        ByteArrayOutputStream in = new ByteArrayOutputStream(end + 4);
        in.write(buf, 0, end);
        if (end > 0 && buf[end - 1] != '\n') in.writeBytes(new byte[] {'\r', '\n'});
        in.writeBytes(new byte[] {'\r', '\n'});                 // the blank line that ends the section

        List<ByteSequence> fields = new ArrayList<>();
        MimeTokenStream stream = new MimeTokenStream(LENIENT);
        stream.parse(new ByteArrayInputStream(in.toByteArray()));
        try {
            for (EntityState s = stream.getState(); s != EntityState.T_END_HEADER && s != EntityState.T_END_OF_STREAM;
                    s = stream.next()) {
                if (s == EntityState.T_FIELD && stream.getField().getRaw() != null) fields.add(stream.getField().getRaw());
            }
        } catch (MimeException | IOException e) {
            // Lenient parsing of an in-memory array should not fail; if it does, quote what came before.
        }
        return fields;
    }

    /** Writes one field as CRLF lines of at most 998 octets, each continuation starting with whitespace. */
    private static void appendField(ByteSequence raw, ByteArrayOutputStream out) {
        int len = raw.length();
        int start = 0;
        boolean first = true;
        for (int i = 0; i <= len; i++) {
            if (i < len && raw.byteAt(i) != '\n') continue;
            byte[] line = physicalLine(raw, start, i);
            start = i + 1;
            if (!first) {
                if (blank(line)) continue;                      // an empty continuation adds nothing
                if (line[0] != ' ' && line[0] != '\t') line = prepend(' ', line);
            }
            first = false;
            appendLine(line, out);
        }
    }

    /** raw[from, to) without its CR and trailing whitespace, control characters (bare CR, NUL...) as spaces. */
    private static byte[] physicalLine(ByteSequence raw, int from, int to) {
        int end = to;
        while (end > from && (raw.byteAt(end - 1) == '\r' || raw.byteAt(end - 1) == ' ' || raw.byteAt(end - 1) == '\t')) end--;
        byte[] line = new byte[end - from];
        for (int i = 0; i < line.length; i++) {
            byte b = raw.byteAt(from + i);
            line[i] = (b >= 0 && b < 0x20 && b != '\t') || b == 0x7f ? (byte) ' ' : b;
        }
        return line;
    }

    /** One line, folded as needed to at most 998 octets (RFC 5322 2.2.3: CRLF goes before whitespace). */
    private static void appendLine(byte[] line, ByteArrayOutputStream out) {
        if (line.length > MAX_LINE) line = collapseWhitespace(line);    // so no piece can be blank
        int start = 0;
        boolean addSpace = false;           // this piece continues a hard cut: it needs a leading space
        for (;;) {
            int room = MAX_LINE - (addSpace ? 1 : 0);
            if (line.length - start <= room) {
                if (addSpace) out.write(' ');
                out.write(line, start, line.length - start);
                out.writeBytes(new byte[] {'\r', '\n'});
                return;
            }
            int cut = -1;                   // fold at whitespace in the second half: no stub lines
            for (int i = start + room; i > start + room / 2; i--) {
                if (line[i] == ' ' || line[i] == '\t') { cut = i; break; }
            }
            boolean hard = cut < 0;
            if (hard) {
                cut = start + room;
                while (cut > start + 1 && (line[cut] & 0xC0) == 0x80) cut--;   // not inside a UTF-8 sequence
            }
            if (addSpace) out.write(' ');
            out.write(line, start, cut - start);
            out.writeBytes(new byte[] {'\r', '\n'});
            start = cut;                    // a soft fold: the continuation starts with the whitespace at cut
            addSpace = hard;
        }
    }

    private static byte[] collapseWhitespace(byte[] line) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(line.length);
        boolean wsp = false;
        for (byte b : line) {
            boolean isWsp = b == ' ' || b == '\t';
            if (isWsp && wsp) continue;
            out.write(b);
            wsp = isWsp;
        }
        return out.toByteArray();
    }

    private static boolean blank(byte[] line) {
        for (byte b : line) if (b != ' ' && b != '\t') return false;
        return true;
    }

    private static byte[] prepend(char c, byte[] line) {
        byte[] r = new byte[line.length + 1];
        r[0] = (byte) c;
        System.arraycopy(line, 0, r, 1, line.length);
        return r;
    }
}
