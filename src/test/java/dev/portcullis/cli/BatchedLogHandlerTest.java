package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(20)
class BatchedLogHandlerTest {

    /** Counts the write calls, as the system calls they stand for. */
    static final class CountingStream extends ByteArrayOutputStream {
        int writes;

        @Override public synchronized void write(byte[] b, int off, int len) {
            writes++;
            super.write(b, off, len);
        }

        synchronized String text() { return toString(StandardCharsets.UTF_8); }
    }

    private static BatchedLogHandler handler(CountingStream out) {
        BatchedLogHandler h = new BatchedLogHandler(out);
        h.setFormatter(new Formatter() {
            @Override public String format(LogRecord r) { return r.getMessage() + "\n"; }
        });
        return h;
    }

    @Test
    void manyLinesGoOutInOrderInAFewWrites() {
        CountingStream out = new CountingStream();
        BatchedLogHandler h = handler(out);
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            h.publish(new LogRecord(Level.INFO, "line " + i));
            expected.append("line ").append(i).append('\n');
        }
        h.close();
        assertEquals(expected.toString(), out.text());
        assertTrue(out.writes < 100, "1000 lines in " + out.writes + " writes: not batched");
    }

    @Test
    void aWarningIsWrittenAtOnceWithEveryLineBeforeIt() {
        CountingStream out = new CountingStream();
        BatchedLogHandler h = handler(out);
        h.publish(new LogRecord(Level.INFO, "accepted"));
        h.publish(new LogRecord(Level.WARNING, "disk full"));
        assertEquals("accepted\ndisk full\n", out.text(), "no waiting for the writer thread");
        h.close();
    }

    @Test
    void infoLinesArriveWithoutAFlushAndALineAfterCloseIsNotLost() throws InterruptedException {
        CountingStream out = new CountingStream();
        BatchedLogHandler h = handler(out);
        h.publish(new LogRecord(Level.INFO, "queued"));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (out.text().isEmpty() && System.nanoTime() < deadline) Thread.sleep(5);
        assertEquals("queued\n", out.text(), "the writer thread writes a lone line by itself");

        h.close();
        h.publish(new LogRecord(Level.INFO, "stopped"));   // published to a closed handler: written, not dropped
        assertEquals("queued\nstopped\n", out.text());
    }
}
