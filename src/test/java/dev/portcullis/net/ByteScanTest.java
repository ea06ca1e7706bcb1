package dev.portcullis.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The word-at-a-time scans against the byte-at-a-time loop they replace, on every start and end. */
@Timeout(30)
class ByteScanTest {
    /** The bytes that matter and their neighbours, including ones that differ from CR or LF in the high bit. */
    private static final byte[] TRICKY = {'\r', '\n', 0, 0x0b, 0x0c, 0x0e, 0x09, 0x01, (byte) 0x8d, (byte) 0x8a,
            (byte) 0x80, (byte) 0xff, (byte) 0x7f, '.', 'X'};

    private static int naive(byte[] b, int from, int to, boolean nul) {
        for (int i = from; i < to; i++) if (b[i] == '\r' || b[i] == '\n' || (nul && b[i] == 0)) return i;
        return to;
    }

    @Test
    void findsTheFirstOfEveryKindOfByteAtEveryPosition() {
        Random random = new Random(8);
        for (int round = 0; round < 300; round++) {
            byte[] b = new byte[random.nextInt(40)];
            int density = 1 + random.nextInt(12);
            for (int i = 0; i < b.length; i++) {
                b[i] = random.nextInt(density) == 0 ? TRICKY[random.nextInt(TRICKY.length)] : (byte) ('a' + random.nextInt(26));
            }
            for (int from = 0; from <= b.length; from++) {
                for (int to = from; to <= b.length; to++) {
                    assertEquals(naive(b, from, to, false), ByteScan.lineBreak(b, from, to), () -> "lineBreak " + java.util.Arrays.toString(b));
                    assertEquals(naive(b, from, to, true), ByteScan.lineBreakOrNul(b, from, to), () -> "lineBreakOrNul " + java.util.Arrays.toString(b));
                }
            }
        }
    }

    @Test
    void aMatchInTheLastLaneOfAWordAndInTheTail() {
        byte[] b = "abcdefg\rabcdefgh\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertEquals(7, ByteScan.lineBreak(b, 0, b.length));
        assertEquals(16, ByteScan.lineBreak(b, 8, b.length));
        assertEquals(16, ByteScan.lineBreakOrNul(b, 8, b.length));
        assertEquals(12, ByteScan.lineBreak(b, 8, 12), "nothing before the end: the end");
        byte[] nul = new byte[20];
        java.util.Arrays.fill(nul, (byte) 'x');
        nul[13] = 0;
        assertEquals(20, ByteScan.lineBreak(nul, 0, 20));
        assertEquals(13, ByteScan.lineBreakOrNul(nul, 0, 20));
    }
}
