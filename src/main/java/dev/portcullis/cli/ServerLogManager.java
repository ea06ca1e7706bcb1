package dev.portcullis.cli;

import java.util.logging.LogManager;

/**
 * JUL's LogManager for the server, which keeps its handlers through JVM shutdown. The JDK's own shutdown
 * hook resets the LogManager (removes and closes every handler) at the same time as the server's hook
 * stops the server, so the lines logged while stopping (the last sessions, the spool's summary) were lost.
 * Once {@link Logging#configure} has set up the server's handler, resets are ignored; the server's shutdown
 * hook flushes the handler after the server has stopped. Installed by {@code Main} through the
 * {@code java.util.logging.manager} property, before anything logs.
 */
public final class ServerLogManager extends LogManager {
    private volatile boolean keep;

    public ServerLogManager() {}

    /** From now on, reset() (the JDK's at shutdown, or anyone's) leaves the configuration alone. */
    void keepHandlers() { keep = true; }

    @Override public void reset() {
        if (!keep) super.reset();
    }
}
