package dev.portcullis.pop3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A stored message as POP3 sends it (RFC 1939 section 3): every line ends in CRLF, and a line that starts
 * with '.' gets one more '.' in front (byte-stuffing), so that only the server's own CRLF.CRLF ends the
 * reply. Messages are stored with LF endings (see delivery/Maildir): a bare LF becomes CRLF, a CRLF already
 * in the file stays as it is, and a last line without its LF gets a CRLF.
 *
 * One loop does both jobs so they cannot disagree: {@link #size} is what {@link #copy} sends, less the
 * stuffing dots (the client removes them, so they are not part of the message) — the octet count that LIST
 * and STAT must report (RFC 1939 section 5: "exact size" of the message as sent, CRLF line endings).
 */
final class WireFormat {
    private WireFormat() {}

    /** The message's size in octets on the wire (CRLF line endings, no stuffing, no terminating ".CRLF"). */
    static long size(InputStream in) throws IOException {
        return transfer(in, null, false, -1);
    }

    /**
     * Writes the message, CRLF-converted and dot-stuffed, without the terminating ".CRLF". With
     * {@code bodyLines} >= 0 only the header, the blank line after it and that many body lines are sent (TOP).
     */
    static void copy(InputStream in, OutputStream out, long bodyLines) throws IOException {
        transfer(in, out, true, bodyLines);
    }

    private static long transfer(InputStream in, OutputStream out, boolean stuff, long bodyLines) throws IOException {
        byte[] buf = new byte[32 * 1024];
        byte[] o = new byte[2 * buf.length + 4];
        boolean lineStart = true, prevCr = false, inBody = false, stop = false;
        int lineLen = 0;
        long left = bodyLines;
        long count = 0;
        for (int n; !stop && (n = in.read(buf)) >= 0; ) {
            int len = 0;
            for (int i = 0; i < n; i++) {
                byte b = buf[i];
                if (b == '\n') {
                    if (!prevCr) o[len++] = '\r';
                    o[len++] = '\n';
                    boolean empty = lineLen == 0 || (lineLen == 1 && prevCr);
                    if (!inBody) {
                        if (empty) inBody = true; // RFC 5322 section 2.1: the header ends at the first empty line
                    } else {
                        left--;
                    }
                    lineStart = true;
                    prevCr = false;
                    lineLen = 0;
                    if (bodyLines >= 0 && inBody && left <= 0) {
                        stop = true;
                        break;
                    }
                } else {
                    if (lineStart && b == '.' && stuff) o[len++] = '.';
                    o[len++] = b;
                    lineStart = false;
                    prevCr = b == '\r';
                    lineLen++;
                }
            }
            count += len;
            if (out != null) out.write(o, 0, len);
        }
        if (!stop && !lineStart) { // a last line without LF: end it, as the reply's terminator needs
            byte[] tail = prevCr ? new byte[] {'\n'} : new byte[] {'\r', '\n'};
            count += tail.length;
            if (out != null) out.write(tail);
        }
        return count;
    }
}
