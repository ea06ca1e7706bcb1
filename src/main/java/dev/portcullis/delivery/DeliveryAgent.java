package dev.portcullis.delivery;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/*
 * Runs local delivery for queue ids as they arrive: the SMTP side submits the id after its 250, the
 * start-up code submits what the spool recovered.
 *
 * Invariants: an id, once submitted, is delivered or waits in memory for a retry until close(); a failure
 * never drops it (it comes back after the retry delay). Ids are only ever hints: the spool is the record,
 * so after close() or a crash the next start recovers whatever is still queued. An id is handled by at
 * most one delivery at a time (a second submit while it is waiting or running is ignored), so two
 * threads never deliver the same message at once.
 *
 * Submitted ids are gathered for GATHER (a thread woken per message costs more than delivering it when
 * nothing is written), then the dispatch thread hands each to a pool of PARALLEL platform worker threads
 * (delivery is disk-bound: more threads would only queue up on fsync). Platform, not virtual: a delivery
 * forces its Maildir file, and an fsync on a virtual thread holds its carrier, one of only as many as
 * there are cores, which every SMTP session shares. A delivery that writes nothing ([local] delivery =
 * "discard") runs on the dispatch thread itself, the whole gathered batch for one wake-up.
 *
 * Local recipients first, remote ones next: when a run leaves recipients in other domains and a
 * RemoteDelivery is set, the id is handed over to it and stays "known" (in hand) until the remote side
 * releases it, so the rescan never runs a message the outbound queue is working on. Held messages are
 * never handed over.
 *
 * Requests from the queue tools (portcullis queue, another process): empty files in the queue folder, looked
 * for every second. "flush" makes every waiting outbound recipient due now and rescans; "rescan" only rescans
 * (a released hold, a bounce just stored). A request is deleted before it is acted on, so one written while
 * we act is seen at the next poll: none is lost, and several written at once are served by one action.
 */
public final class DeliveryAgent implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger("portcullis.delivery");
    private static final int PARALLEL = 8;
    private static final Duration DEFAULT_RETRY = Duration.ofSeconds(30);
    /** How long submitted ids are gathered before they are handed out: the delay a delivery gets at most. */
    private static final Duration GATHER = Duration.ofMillis(1);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    /** How often the whole queue is looked at again: picks up messages released by another process. */
    private static final Duration RESCAN = Duration.ofMinutes(1);
    /** The queue tools' request files, in the queue folder (see the class comment). */
    public static final String FLUSH_REQUEST = "flush";
    public static final String RESCAN_REQUEST = "rescan";
    private static final Duration REQUEST_POLL = Duration.ofSeconds(1);

    private final LocalDelivery local;
    private final Duration retryDelay;
    /** Ids gathered (or waiting for start), waiting for a worker, running, or waiting for a retry. */
    private final Set<String> known = ConcurrentHashMap.newKeySet();
    /** Ids submitted and not yet handed out. */
    private final ConcurrentLinkedQueue<String> gathered = new ConcurrentLinkedQueue<>();
    /** A dispatch of {@link #gathered} is scheduled and has not started yet. */
    private final AtomicBoolean dispatchScheduled = new AtomicBoolean();
    private volatile boolean started;
    /** The dispatch thread: gathered ids, retries, rescans and the queue tools' requests. */
    private final ScheduledThreadPoolExecutor dispatcher = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "delivery-dispatch");
        t.setDaemon(true);
        return t;
    });
    private final ExecutorService workers = Executors.newFixedThreadPool(PARALLEL,
            Thread.ofPlatform().name("delivery-", 1).daemon(true).factory());
    private volatile boolean closed;
    private volatile RemoteDelivery remote;
    private Path requestDir; // null: no queue tools' requests are looked for
    private boolean requestTroubleLogged;

    public DeliveryAgent(LocalDelivery local) {
        this(local, DEFAULT_RETRY);
    }

    public DeliveryAgent(LocalDelivery local, Duration retryDelay) {
        this.local = Objects.requireNonNull(local, "local");
        if (retryDelay.isNegative()) throw new IllegalArgumentException("negative retry delay: " + retryDelay);
        this.retryDelay = retryDelay;
    }

    /**
     * Sets where messages with recipients in other domains go once their local recipients are done. Without
     * one they stay queued (the rescan looks at them again every minute). Set it before {@link #start}.
     */
    public synchronized void remote(RemoteDelivery remoteDelivery) {
        if (started) throw new IllegalStateException("already started");
        this.remote = remoteDelivery;
    }

    /**
     * Looks for the queue tools' requests ({@link #FLUSH_REQUEST}, {@link #RESCAN_REQUEST}) in {@code queueDir}
     * every second once started. Set it before {@link #start}.
     */
    public synchronized void requests(Path queueDir) {
        if (started) throw new IllegalStateException("already started");
        this.requestDir = Objects.requireNonNull(queueDir, "queueDir");
    }

    /** Starts delivering: first the ids recovered from the spool (oldest first), then whatever is submitted. */
    public synchronized void start(List<String> recoveredIds) {
        if (started) throw new IllegalStateException("already started");
        if (closed) throw new IllegalStateException("closed");
        recoveredIds.forEach(this::submit);
        started = true;
        dispatcher.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);   // close() drops waiting retries
        scheduleDispatch();
        dispatcher.scheduleWithFixedDelay(this::rescan, RESCAN.toMillis(), RESCAN.toMillis(), TimeUnit.MILLISECONDS);
        if (requestDir != null)
            dispatcher.scheduleWithFixedDelay(this::pollRequests, REQUEST_POLL.toMillis(), REQUEST_POLL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Acts on the queue tools' requests, if any (on the retry thread, once a second). */
    void pollRequests() {
        Path dir = requestDir;
        try {
            boolean flush = Files.deleteIfExists(dir.resolve(FLUSH_REQUEST));
            boolean rescan = Files.deleteIfExists(dir.resolve(RESCAN_REQUEST));
            requestTroubleLogged = false;
            if (flush) {
                LOG.info("delivery: queue flush requested: every deferred recipient is retried now");
                RemoteDelivery r = remote;
                if (r != null && !closed) r.retryNow();
            }
            if (flush || rescan) rescan();
        } catch (IOException | RuntimeException e) {
            // Once, not every second: a request file we may not delete (another owner) would flood the log.
            if (!requestTroubleLogged)
                LOG.warning(() -> "delivery: cannot take the queue tools' requests in " + dir + ": " + e);
            requestTroubleLogged = true;
        }
    }

    /** Submits every queued message not already on its way (released holds, pending recipients). */
    void rescan() {
        try {
            local.queuedIds().forEach(this::submit);
        } catch (java.io.IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "delivery: queue rescan failed, next one in " + RESCAN.toSeconds() + "s", e);
        }
    }

    /** Queues a stored message for delivery. Ids submitted before {@link #start} wait for it. */
    public void submit(String queueId) {
        Objects.requireNonNull(queueId, "queueId");
        if (closed) {
            LOG.info(() -> queueId + ": not delivered now, agent closed; stays queued for the next start");
            return;
        }
        if (!known.add(queueId)) return;
        gathered.add(queueId);
        if (started) scheduleDispatch();   // before start, start() schedules it
    }

    private void scheduleDispatch() {
        if (!dispatchScheduled.compareAndSet(false, true)) return;   // one is on its way: it takes this id too
        try {
            dispatcher.schedule(this::dispatch, GATHER.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closing) {
            // close(): the gathered ids stay in the spool for the next start
        }
    }

    private void dispatch() {
        dispatchScheduled.set(false);   // first: an id submitted from now on schedules the next dispatch
        boolean inline = !local.writesToDisk();
        for (String id = gathered.poll(); id != null && !closed; id = gathered.poll()) {
            if (inline) run(id);
            else execute(id);
        }
    }

    private void execute(String id) {
        try {
            workers.execute(() -> run(id));
        } catch (RejectedExecutionException closing) {
            known.remove(id);
            LOG.info(() -> id + ": not delivered now, agent closed; stays queued for the next start");
        }
    }

    /** Stops taking ids and waits a few seconds for deliveries under way. Queued ids stay in the spool. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        // Deliveries under way are not interrupted: an interrupted FileChannel closes mid-write. Waiting
        // ones see `closed` and return at once, leaving their message in the queue.
        dispatcher.shutdown();
        workers.shutdown();
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        try {
            if (!dispatcher.awaitTermination(CLOSE_WAIT.toNanos(), TimeUnit.NANOSECONDS)
                    || !workers.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS))
                LOG.warning("delivery: closed with deliveries still running; the queue keeps their messages");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run(String id) {
        if (closed) return;   // stays queued for the next start
        boolean retry = false;
        boolean handedOver = false;
        try {
            LocalDelivery.Result result = local.run(id);
            RemoteDelivery r = remote;
            if (result == LocalDelivery.Result.REMOTE_PENDING && r != null && !closed) {
                handedOver = true;
                r.take(id, () -> known.remove(id));
            } else if (result != LocalDelivery.Result.REMOVED) {
                LOG.fine(() -> id + ": " + result.name().toLowerCase(java.util.Locale.ROOT) + ", stays queued");
            }
        } catch (Exception e) {
            // IOException mostly (disk full, a broken mailbox); anything else is a bug, but the message
            // must not be forgotten because of it either.
            LOG.log(Level.WARNING, id + ": delivery failed, retry in " + retryDelay.toSeconds() + "s: " + e, e);
            retry = true;
        }
        if (retry) scheduleRetry(id);
        else if (!handedOver) known.remove(id);
    }

    private void scheduleRetry(String id) {
        try {
            dispatcher.schedule(() -> {
                if (!closed) execute(id);
            }, retryDelay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            LOG.info(() -> id + ": retry dropped at close; stays queued for the next start");
        }
    }
}
