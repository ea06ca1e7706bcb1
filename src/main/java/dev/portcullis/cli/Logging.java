package dev.portcullis.cli;

import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * One line per event on standard error: time, level, logger, message (and a stack trace only for bugs),
 * written in batches (BatchedLogHandler).
 */
final class Logging {
    private Logging() {}

    static void configure(boolean verbose) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        BatchedLogHandler handler = new BatchedLogHandler(System.err);
        handler.setFormatter(new LogLineFormatter());
        handler.setLevel(Level.ALL);
        root.addHandler(handler);
        root.setLevel(verbose ? Level.FINE : Level.INFO);
    }
}
