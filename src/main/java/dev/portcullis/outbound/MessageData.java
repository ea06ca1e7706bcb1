package dev.portcullis.outbound;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/*
 * The message content as it goes on the wire after DATA (RFC 5321 4.1.1.4, 4.5.2).
 *
 * Invariants of what write() sends: every line ends in CRLF, and no bare CR or bare LF ever leaves (a bare
 * LF or CR in the stored content becomes CRLF: sending one would open the door to SMTP smuggling at the
 * next hop, and RFC 5321 2.3.8 forbids it); a line starting with "." gets a second "." (transparency,
 * 4.5.2); the content ends in CRLF even when the stored message does not (BDAT, RFC 3030, lets a client
 * send a message without a final CRLF); then ".CRLF" ends the data.
 *
 * measure() runs the same conversion without writing: the size for SIZE= (RFC 1870: the message size,
 * CRLF line ends, without the transparency dots), and whether the header section holds non-ASCII octets
 * (so the message needs SMTPUTF8, RFC 6532).
 */
final class MessageData {

    private MessageData() {}

    record Measure(long size, boolean nonAsciiHeader, boolean eightBit) {}

    static Measure measure(InputStream in) throws IOException {
        Converter c = new Converter(null);
        c.copy(in);
        c.finish();
        return new Measure(c.size, c.nonAsciiHeader, c.eightBit);
    }

    /** Writes the converted content and the terminating ".CRLF". Does not flush. */
    static void write(InputStream in, OutputStream out) throws IOException {
        Converter c = new Converter(out);
        c.copy(in);
        c.finish();
        c.flushBuffer();
        out.write(new byte[] {'.', '\r', '\n'});
    }

    private static final class Converter {
        private final OutputStream out;
        private final byte[] buf = new byte[64 * 1024];
        private int len;
        long size;
        boolean nonAsciiHeader;
        boolean eightBit;
        private boolean lineStart = true;
        private boolean pendingCr;
        private boolean inHeader = true;
        private boolean emptyLine = true; // the current line has no content yet

        Converter(OutputStream out) { this.out = out; }

        void copy(InputStream in) throws IOException {
            byte[] chunk = new byte[64 * 1024];
            for (int n = in.read(chunk); n >= 0; n = in.read(chunk))
                for (int i = 0; i < n; i++) accept(chunk[i]);
        }

        private void accept(byte b) throws IOException {
            if (pendingCr) {
                pendingCr = false;
                endLine(); // CRLF, or a bare CR, which becomes CRLF
                if (b == '\n') return;
            }
            if (b == '\r') { pendingCr = true; return; }
            if (b == '\n') { endLine(); return; } // a bare LF becomes CRLF
            if (lineStart && b == '.') emit((byte) '.', false); // transparency: not counted in SIZE
            if (b < 0) {
                eightBit = true;
                if (inHeader) nonAsciiHeader = true;
            }
            lineStart = false;
            emptyLine = false;
            emit(b, true);
        }

        private void endLine() throws IOException {
            if (inHeader && emptyLine) inHeader = false; // the empty line ending the header section
            emit((byte) '\r', true);
            emit((byte) '\n', true);
            lineStart = true;
            emptyLine = true;
        }

        void finish() throws IOException {
            if (pendingCr) {
                pendingCr = false;
                endLine();
            }
            if (!lineStart) endLine(); // no final CRLF (BDAT): add one
        }

        private void emit(byte b, boolean counted) throws IOException {
            if (counted) size++;
            if (out == null) return;
            if (len == buf.length) flushBuffer();
            buf[len++] = b;
        }

        void flushBuffer() throws IOException {
            if (out != null && len > 0) out.write(buf, 0, len);
            len = 0;
        }
    }
}
