package dev.portcullis.cli;

import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * One line per event on standard error: time, level, logger, message (and a stack trace only for bugs),
 * written in batches (BatchedLogHandler).
 */
final class Logging {
    private static volatile BatchedLogHandler handler;

    private Logging() {}

    static void configure(boolean verbose) {
        LogManager manager = LogManager.getLogManager();
        manager.reset();
        Logger root = Logger.getLogger("");
        BatchedLogHandler h = new BatchedLogHandler(System.err);
        h.setFormatter(new LogLineFormatter());
        h.setLevel(Level.ALL);
        root.addHandler(h);
        root.setLevel(verbose ? Level.FINE : Level.INFO);
        handler = h;
        // the lines logged while the server stops must not lose their handler to JUL's shutdown hook
        if (manager instanceof ServerLogManager m) m.keepHandlers();
    }

    /** Writes the lines still waiting in the handler (the last thing the server's shutdown hook does). */
    static void flush() {
        BatchedLogHandler h = handler;
        if (h != null) h.flush();
    }
}
