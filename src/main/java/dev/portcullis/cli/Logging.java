package dev.portcullis.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/** One line per event on standard error: time, level, logger, message (and a stack trace only for bugs). */
final class Logging {
    private Logging() {}

    static void configure(boolean verbose) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        ConsoleHandler handler = new ConsoleHandler();
        handler.setFormatter(new LogLineFormatter());
        handler.setLevel(Level.ALL);
        root.addHandler(handler);
        root.setLevel(verbose ? Level.FINE : Level.INFO);
    }
}
