package dev.portcullis.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.logging.ErrorManager;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/*
 * The server's log handler: one formatted line per record, written to standard error by a thread of its
 * own, in batches. A busy server logs three or four lines per message; JUL's ConsoleHandler writes and
 * flushes each under one lock, a system call per line with every session queuing for it. Here a session
 * appends its line to a buffer; the writer thread, woken by the first line of a batch, lets more arrive
 * for LINGER and writes them all in one call.
 *
 * What a hard kill (SIGKILL, power) may cost: the INFO lines of the last LINGER. A WARNING or SEVERE
 * record is written at once, with every line before it, so the lines that explain a failure are on
 * disk before the failure goes on. close() (JUL's reset at exit) writes what waits; a record published
 * to a closed handler is written at once rather than dropped.
 */
final class BatchedLogHandler extends Handler {

    private static final long LINGER_MILLIS = 20;
    /** Past this much waiting, the logging thread writes itself: memory stays bounded when stderr blocks. */
    private static final int MAX_PENDING = 1 << 20;

    private final OutputStream out;
    private final Object lock = new Object();
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream(16 * 1024);   // guarded by lock
    private boolean closed;                                                               // guarded by lock

    BatchedLogHandler(OutputStream out) {
        this.out = out;
        Thread.ofPlatform().name("log-writer").daemon().start(this::writeBatches);
    }

    @Override
    public void publish(LogRecord record) {
        if (!isLoggable(record)) return;
        byte[] line;
        try {
            line = getFormatter().format(record).getBytes(StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            reportError(null, e, ErrorManager.FORMAT_FAILURE);
            return;
        }
        boolean now = record.getLevel().intValue() >= Level.WARNING.intValue();
        synchronized (lock) {
            boolean wasEmpty = pending.size() == 0;
            pending.writeBytes(line);
            if (closed || now || pending.size() >= MAX_PENDING) writePending();
            else if (wasEmpty) lock.notify();
        }
    }

    @Override
    public void flush() {
        synchronized (lock) {
            writePending();
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            writePending();
            lock.notify();
        }
    }

    private void writeBatches() {
        try {
            while (true) {
                synchronized (lock) {
                    while (pending.size() == 0 && !closed) lock.wait();
                    if (closed) return;
                }
                Thread.sleep(LINGER_MILLIS);   // let the rest of the batch arrive
                flush();
            }
        } catch (InterruptedException e) {
            flush();
        }
    }

    private void writePending() {   // holding lock: lines go out in the order they were logged
        if (pending.size() == 0) return;
        try {
            pending.writeTo(out);
            out.flush();
        } catch (IOException | RuntimeException e) {
            reportError(null, e, ErrorManager.WRITE_FAILURE);
        }
        pending.reset();
    }
}
