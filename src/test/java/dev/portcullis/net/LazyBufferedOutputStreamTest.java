package dev.portcullis.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LazyBufferedOutputStreamTest {

    /** Records each write that reaches the socket side, so batching is visible. */
    private static final class Writes extends ByteArrayOutputStream {
        final List<Integer> sizes = new ArrayList<>();
        int flushes;
        @Override public synchronized void write(byte[] b, int off, int len) { sizes.add(len); super.write(b, off, len); }
        @Override public void flush() { flushes++; }
    }

    private static byte[] bytes(String s) { return s.getBytes(StandardCharsets.US_ASCII); }

    @Test
    void repliesAreHeldUntilFlushAndThenWrittenInOneGo() throws IOException {
        Writes socket = new Writes();
        LazyBufferedOutputStream out = new LazyBufferedOutputStream(socket, 4096);
        out.write(bytes("250 2.1.0 Ok\r\n"));
        out.write(bytes("250 2.1.5 Ok\r\n"));
        out.write('x');
        assertEquals(List.of(), socket.sizes);
        out.flush();
        assertEquals(List.of(29), socket.sizes);
        assertEquals("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\nx", socket.toString(StandardCharsets.US_ASCII));
        assertEquals(1, socket.flushes);
    }

    @Test
    void atTheLimitTheBufferIsWrittenOutAndABigWriteGoesStraightThrough() throws IOException {
        Writes socket = new Writes();
        LazyBufferedOutputStream out = new LazyBufferedOutputStream(socket, 100);
        for (int i = 0; i < 12; i++) out.write(bytes("0123456789"));   // 120 bytes: the 11th write overflows
        assertEquals(List.of(100), socket.sizes);
        out.write(new byte[500]);
        assertEquals(List.of(100, 20, 500), socket.sizes);
        out.flush();
        assertEquals(620, socket.size());
    }
}
