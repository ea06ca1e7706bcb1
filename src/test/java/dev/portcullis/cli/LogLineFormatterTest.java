package dev.portcullis.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Instant;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class LogLineFormatterTest {

    @Test
    void oneLineWithUtcTimeLevelLoggerAndMessage() {
        LogRecord r = new LogRecord(Level.INFO, "queued {0}");
        r.setInstant(Instant.parse("2026-11-22T14:12:30.699123Z"));
        r.setLoggerName("portcullis.smtp");
        r.setParameters(new Object[] {"01M81"});
        assertEquals("2026-11-22T14:12:30.699Z INFO portcullis.smtp: queued 01M81" + System.lineSeparator(),
                new LogLineFormatter().format(r));
    }

    @Test
    void aThrowableFollowsOnTheNextLines() {
        LogRecord r = new LogRecord(Level.WARNING, "delivery failed");
        r.setInstant(Instant.parse("2026-01-02T03:04:05Z"));
        r.setLoggerName("portcullis.delivery");
        r.setThrown(new IOException("disk full"));
        String text = new LogLineFormatter().format(r);
        assertTrue(text.startsWith("2026-01-02T03:04:05.000Z WARNING portcullis.delivery: delivery failed"
                + System.lineSeparator() + "java.io.IOException: disk full"), text);
        assertTrue(text.contains("\tat dev.portcullis.cli.LogLineFormatterTest"), text);
    }
}
