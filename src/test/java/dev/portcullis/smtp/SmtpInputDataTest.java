package dev.portcullis.smtp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * DATA framing (RFC 5321 4.5.2 dot-stuffing, 2.3.8 line endings) against a reference that reads the
 * wire one octet at a time, on random content split into random reads: the bulk copy of whole lines must
 * store the same octets, end at the same place and refuse the same bare CR or LF, wherever the reads end.
 */
@Timeout(60)
class SmtpInputDataTest {

    private enum End { COMPLETE, BARE, EOF }

    private record Expected(End end, byte[] content, int consumed) {}

    /** The framing, octet by octet, straight from the RFC's rules. */
    private static Expected reference(byte[] w) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (true) {
            if (i >= w.length) return new Expected(End.EOF, null, i);
            if (w[i] == '.') {                       // a line starting with a dot: the end, or a stuffed dot
                i++;
                if (i >= w.length) return new Expected(End.EOF, null, i);
                if (w[i] == '\r') {
                    if (i + 1 >= w.length) return new Expected(End.EOF, null, i);
                    if (w[i + 1] == '\n') return new Expected(End.COMPLETE, out.toByteArray(), i + 2);
                    return new Expected(End.BARE, null, i);
                }
                if (w[i] == '\n') return new Expected(End.BARE, null, i);
            }
            int start = i;
            while (i < w.length && w[i] != '\r' && w[i] != '\n') i++;
            if (i >= w.length) return new Expected(End.EOF, null, i);
            if (w[i] == '\n') return new Expected(End.BARE, null, i);
            if (i + 1 >= w.length) return new Expected(End.EOF, null, i);
            if (w[i + 1] != '\n') return new Expected(End.BARE, null, i);
            out.write(w, start, i - start);
            out.write('\r');
            out.write('\n');
            i += 2;
        }
    }

    /** Hands out the wire in reads of random sizes, as a socket does. */
    private static final class ChoppyStream extends InputStream {
        private final byte[] bytes;
        private final Random random;
        private int pos;

        ChoppyStream(byte[] bytes, Random random) { this.bytes = bytes; this.random = random; }

        @Override public int read() { return pos < bytes.length ? bytes[pos++] & 0xff : -1; }

        @Override public int read(byte[] b, int off, int len) {
            if (pos >= bytes.length) return -1;
            int n = Math.min(Math.min(len, bytes.length - pos), 1 + random.nextInt(random.nextBoolean() ? 4 : 700));
            System.arraycopy(bytes, pos, b, off, n);
            pos += n;
            return n;
        }

        @Override public int available() { return bytes.length - pos; }
    }

    private static final String[] PIECES = {"\r\n", "\r\n", "\r\n", ".", "..", "\r\n.", "\r\n..", "\r\n.x", "\r", "\n",
            "\r\r\n", "Subject: x", "X".repeat(78), "abcdefg", "\u00e9\u008d\u008a", "\u0000", "\r\n.\r", "\r\n.\n"};

    @Test
    void storesAndEndsAsAnOctetByOctetReaderOnRandomContentAndReads() throws IOException {
        Random random = new Random(4_5_2);
        int complete = 0, bare = 0, eof = 0;
        for (int round = 0; round < 6000; round++) {
            StringBuilder sb = new StringBuilder();
            for (int n = random.nextInt(60); n > 0; n--) {
                // mostly clean lines, as real mail: a bare CR or LF in every piece would end nearly every round at once
                sb.append(random.nextInt(12) == 0 ? PIECES[random.nextInt(PIECES.length)] : PIECES[random.nextInt(3) == 0 ? 12 : 0]);
            }
            if (random.nextInt(10) != 0) sb.append("\r\n.\r\nQUIT\r\n");
            byte[] wire = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
            Expected expected = reference(wire);
            SmtpInput input = new SmtpInput(new ChoppyStream(wire, random), () -> {});
            MessageBuffer content = new MessageBuffer(1 << 20);
            String shown = sb.toString().replace("\r", "\\r").replace("\n", "\\n");
            switch (expected.end()) {
                case EOF -> {
                    assertThrows(EOFException.class, () -> input.readData(content), shown);
                    eof++;
                }
                case BARE -> {
                    assertEquals(SmtpInput.DataEnd.BARE_LINE_ENDING, input.readData(content), shown);
                    bare++;
                }
                case COMPLETE -> {
                    assertEquals(SmtpInput.DataEnd.COMPLETE, input.readData(content), shown);
                    assertArrayEquals(expected.content(), Arrays.copyOf(content.array(), content.length()), shown);
                    assertEquals(expected.content().length, content.total(), shown);
                    // what follows the end of data is left for the command reader, untouched
                    byte[] rest = Arrays.copyOfRange(wire, expected.consumed(), wire.length);
                    int lf = indexOf(rest, (byte) '\n');
                    if (lf >= 0) {
                        SmtpInput.Line next = input.readCommandLine(100_000);
                        int len = lf > 0 && rest[lf - 1] == '\r' ? lf - 1 : lf;
                        assertArrayEquals(Arrays.copyOf(rest, len), Arrays.copyOf(next.bytes(), next.length()), shown);
                    }
                    complete++;
                }
            }
        }
        // the random content must reach every outcome often, or the comparison proves little
        assertTrue(complete > 1500 && bare > 500 && eof > 50, "complete " + complete + ", bare " + bare + ", eof " + eof);
    }

    private static int indexOf(byte[] b, byte x) {
        for (int i = 0; i < b.length; i++) if (b[i] == x) return i;
        return -1;
    }
}
