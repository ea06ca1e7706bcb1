package dev.portcullis.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.logging.Formatter;
import java.util.logging.LogRecord;

/*
 * "2026-11-22T14:12:30.699Z INFO portcullis.delivery: message" and a stack trace when there is one: what
 * SimpleFormatter printed with our format string, without parsing that format string again for every
 * line (a server logs a few lines per message; String.format was a visible share of a message's CPU).
 */
final class LogLineFormatter extends Formatter {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    @Override
    public String format(LogRecord record) {
        StringBuilder line = new StringBuilder(160);
        TIME.formatTo(Instant.ofEpochMilli(record.getMillis()), line);
        line.append(' ').append(record.getLevel().getLocalizedName()).append(' ').append(record.getLoggerName())
                .append(": ").append(formatMessage(record));
        if (record.getThrown() != null) {
            StringWriter trace = new StringWriter();
            try (PrintWriter out = new PrintWriter(trace)) {
                out.println();
                record.getThrown().printStackTrace(out);
            }
            line.append(trace);
        }
        return line.append(System.lineSeparator()).toString();
    }
}
