package dev.portcullis.outbound;

import dev.portcullis.config.Config;
import dev.portcullis.delivery.RemoteDelivery;
import dev.portcullis.dns.Dns;
import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.RetryState;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/*
 * The queue manager for recipients in other domains: a scheduler over the durable spool.
 *
 * Ownership: the DeliveryAgent hands a queue id over (take) once its local recipients are done; the id
 * is ours until we call its release, which we do exactly once: when none of its remote recipients is left
 * (the message is removed if every recipient is done), when it was put on hold or removed meanwhile, or at
 * close. So one component at a time works on a message, and within this class one Entry per id, whose
 * monitor guards its recipients' state.
 *
 * Per recipient: done (delivered or bounced: Spool.markDone), in flight (a delivery job holds it), or
 * waiting for its next attempt (RetryState: attempts, next attempt time, last error, warned), which is
 * saved with Spool.saveRetryState after every attempt, so a restart keeps the back-off and never warns
 * twice. Recipients without state have never been tried: due at once.
 *
 * Durability order (DESIGN "250 means on disk"; a crash may duplicate, never lose):
 *   delivered: the peer's 250 to "." -> markDone
 *   failed:    bounce stored in the spool -> markDone
 *   deferred:  state saved (a crash before that only means an earlier retry)
 *   the last recipients of a message closed: remove, instead of markDone (removed() says why)
 * A done recipient is never tried again, before or after a restart.
 *
 * Scheduling: wake(entry) looks at an entry, dispatches its due recipients as jobs (one per destination and
 * message, at most MAX_RCPTS recipients each) and sets a timer for the earliest next attempt. A job goes to
 * its destination's lane (the recipient domain, or one lane for the smarthost); a lane runs at most
 * max_connections_per_destination workers, all lanes together at most max_connections, each worker one
 * SMTP session that carries job after job (RSET between, at most MAX_PER_CONNECTION) while its lane has
 * work, paced by the lane's rate limit, and keeps it IDLE_KEEP for the next job when the lane runs dry
 * (unless every connection is in use and another lane waits). When a destination that failed answers again, every recipient
 * waiting for it is tried at once rather than at its scheduled time: the queue flows out as soon as the
 * peer is back. The queue tools' flush (retryNow) does the same for every entry and every destination.
 *
 * Give-up and warnings are decided after an attempt, so every recipient is tried at least once even after
 * a long downtime: a temporary failure past give_up_after (counted from the message's arrival) fails the
 * recipient and bounces it; one past delay_warning_after, when set, sends one warning per recipient.
 */
public final class OutboundQueue implements RemoteDelivery, AutoCloseable {
    private static final Logger LOG = Logger.getLogger("portcullis.outbound");
    static final int MAX_RCPTS = 100;            // RFC 5321 4.5.3.1.8: the minimum a server must accept
    static final int MAX_PER_CONNECTION = 100;   // transactions per session, then a fresh one
    private static final Duration ERROR_RETRY = Duration.ofMinutes(1);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    /**
     * How long a worker keeps its session open for the lane's next job once the lane is empty (Postfix's
     * connection cache keeps one 2 s): under a steady flow the next message usually comes within it, and
     * a session that waits costs the peer one connection, where quitting costs a connect, EHLO and QUIT.
     */
    static final Duration IDLE_KEEP = Duration.ofSeconds(2);

    private final Config.Outbound settings;
    private final Spool spool;
    private final Predicate<Address> isRemote;
    private final Transfer transfer;
    private final Bouncer bouncer;
    private final RetrySchedule schedule;
    private final Clock clock;

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "outbound-timer");
        t.setDaemon(true);
        return t;
    });
    private final Object lanesLock = new Object();
    private final Map<String, Lane> lanes = new LinkedHashMap<>();
    private int activeWorkers;
    private final Set<SmtpClient> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * @param isRemote   which recipients are ours to deliver (the others are local delivery's)
     * @param queued     where a generated message (bounce, warning) is submitted after it is stored
     * @param postmaster who gets double bounces
     */
    public OutboundQueue(Config.Outbound settings, Spool spool, Predicate<Address> isRemote, Dns dns, Dsn dsn,
                         String reportingMta, Address postmaster, Consumer<String> queued, Clock clock) {
        this.settings = settings;
        this.spool = spool;
        this.isRemote = isRemote;
        this.transfer = new Transfer(settings, new Routes(dns, settings), new ClientTls(settings.tlsVerify().equals("verify")));
        this.bouncer = new Bouncer(spool, dsn, reportingMta, postmaster, queued, clock, settings.giveUpAfter());
        this.schedule = new RetrySchedule(settings.retryIntervals(), settings.giveUpAfter());
        this.clock = clock;
        LOG.info(() -> "outbound delivery: " + describe(settings));
    }

    private static String describe(Config.Outbound s) {
        return s.mode().equals("smarthost")
                ? "via smarthost " + s.smarthostHost() + ":" + s.smarthostPort()
                        + (s.smarthostDomains().isEmpty() ? "" : " for " + s.smarthostDomains() + ", MX for the rest")
                        + (s.authUser() != null ? " as " + s.authUser() : "") + ", tls " + s.tls()
                : "direct to MX (port " + s.port() + "), tls " + s.tls();
    }

    // ---- ownership ----------------------------------------------------------------------------------

    private final class Entry {
        final String id;
        final Runnable release;
        Envelope envelope;
        final Map<Address, RetryState> state = new LinkedHashMap<>();
        boolean loaded;
        final Set<Address> inFlight = new HashSet<>();
        boolean released;
        Instant wakeAt;
        boolean flush; // retryNow asked: at the next look every waiting recipient is due (state loaded first)

        Entry(String id, Runnable release) {
            this.id = id;
            this.release = release;
        }
    }

    @Override public void take(String queueId, Runnable release) {
        if (closed) {
            release.run();
            return;
        }
        Entry e = new Entry(queueId, release);
        if (entries.putIfAbsent(queueId, e) != null) {
            // The agent hands an id over once until released; a second take would be a bug there. The first
            // owner's release is what lets the agent see the id again, so this one is simply not ours.
            LOG.warning(() -> queueId + ": handed to outbound delivery twice; ignoring the second");
            return;
        }
        wakeSoon(e);
    }

    /** Ids currently owned (for tests and diagnostics). */
    Set<String> owned() { return Set.copyOf(entries.keySet()); }

    private void releaseEntry(Entry e) {
        if (e.released) return;
        e.released = true;
        entries.remove(e.id, e);
        try {
            e.release.run();
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, e.id + ": release failed", ex);
        }
    }

    // ---- scheduling ---------------------------------------------------------------------------------

    private void wakeSoon(Entry e) {
        try {
            Thread.ofVirtual().name("outbound-" + e.id).start(() -> wake(e));
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, e.id + ": cannot start a thread; retry in " + ERROR_RETRY.toSeconds() + "s", ex);
            wakeAt(e, clock.instant().plus(ERROR_RETRY));
        }
    }

    private void wakeAt(Entry e, Instant at) {
        synchronized (e) {
            if (e.released || e.wakeAt != null && !at.isBefore(e.wakeAt)) return;
            e.wakeAt = at;
        }
        long delay = Math.max(0, Duration.between(clock.instant(), at).toMillis());
        try {
            timer.schedule(() -> {
                synchronized (e) {
                    if (at.equals(e.wakeAt)) e.wakeAt = null;
                }
                wakeSoon(e);
            }, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            // closed: the spool keeps the message and its state for the next start
        }
    }

    /** Looks at one entry: finishes it, or dispatches its due recipients and sets the timer for the rest. */
    private void wake(Entry e) {
        if (closed) return;
        Instant retryAt = null;
        synchronized (e) {
            if (e.released) return;
            try {
                Envelope env;
                try {
                    env = spool.envelope(e.id);
                } catch (NoSuchFileException gone) {
                    if (e.inFlight.isEmpty()) {
                        LOG.info(() -> e.id + ": no longer queued");
                        releaseEntry(e);
                    }
                    return;
                }
                e.envelope = env;
                String held = spool.heldReason(e.id);
                if (held != null) {
                    if (e.inFlight.isEmpty()) {
                        LOG.info(() -> e.id + ": on hold (" + held + "), outbound delivery stopped");
                        releaseEntry(e);
                    }
                    return;
                }
                Set<Address> done = spool.done(e.id);
                if (!e.loaded) {
                    e.state.putAll(spool.retryState(e.id));
                    e.loaded = true;
                }
                List<Address> pending = pending(env, done);
                if (pending.isEmpty()) {
                    if (e.inFlight.isEmpty()) finish(e, env, done);
                    return;
                }
                Instant now = clock.instant();
                if (e.flush) {
                    e.flush = false;
                    e.state.replaceAll((r, s) -> s.nextAttempt().isAfter(now)
                            ? new RetryState(r, s.attempts(), now, s.status(), s.remoteMta(), s.lastError(), s.warned()) : s);
                }
                Map<String, List<Address>> due = new LinkedHashMap<>();
                Instant next = null;
                for (Address r : pending) {
                    if (e.inFlight.contains(r)) continue;
                    RetryState st = e.state.get(r);
                    Instant at = st == null ? now : st.nextAttempt();
                    if (!at.isAfter(now)) due.computeIfAbsent(laneKey(r.domain()), k -> new ArrayList<>()).add(r);
                    else if (next == null || at.isBefore(next)) next = at;
                }
                for (var lane : due.entrySet()) {
                    List<Address> rcpts = lane.getValue();
                    for (int i = 0; i < rcpts.size(); i += MAX_RCPTS) {
                        List<Address> chunk = List.copyOf(rcpts.subList(i, Math.min(rcpts.size(), i + MAX_RCPTS)));
                        e.inFlight.addAll(chunk);
                        dispatch(new Job(e, env, lane.getKey(), chunk));
                    }
                }
                retryAt = next;
            } catch (IOException | RuntimeException ex) {
                LOG.log(Level.WARNING, e.id + ": outbound queue error, looking again in " + ERROR_RETRY.toSeconds() + "s: " + ex, ex);
                retryAt = clock.instant().plus(ERROR_RETRY);
            }
        }
        if (retryAt != null) wakeAt(e, retryAt);
    }

    /** Remote recipients not done yet, each once. */
    private List<Address> pending(Envelope env, Set<Address> done) {
        Set<Address> out = new LinkedHashSet<>();
        for (Address r : env.recipients()) if (!done.contains(r) && isRemote.test(r)) out.add(r);
        return List.copyOf(out);
    }

    /** No remote recipient left: remove the message when nothing at all is left, and let go of the id. */
    private void finish(Entry e, Envelope env, Set<Address> done) throws IOException {
        if (done.containsAll(env.recipients())) {
            spool.remove(e.id);
            LOG.info(() -> e.id + ": all recipients done, removed from the queue");
        }
        releaseEntry(e);
    }

    private String laneKey(String domain) {
        return settings.viaSmarthost(domain) ? "[smarthost]" : domain;
    }

    // ---- outcomes -----------------------------------------------------------------------------------

    /** Makes one job's outcomes durable (see the order in the class comment), then looks at the entry again. */
    private void complete(Job job, List<RecipientOutcome> outcomes) {
        Entry e = job.entry;
        synchronized (e) {
            e.inFlight.removeAll(job.recipients);
            Envelope env = job.envelope;
            Instant now = clock.instant();
            List<RecipientOutcome> failed = new ArrayList<>();
            List<RecipientOutcome> warn = new ArrayList<>();
            Set<Address> closedNow = new LinkedHashSet<>(); // delivered, or bounced: done once recorded below
            for (RecipientOutcome o : outcomes) {
                Address r = o.recipient();
                RetryState old = e.state.get(r);
                int attempts = (old == null ? 0 : old.attempts()) + 1;
                switch (o.action()) {
                    case DELIVERED -> {
                        closedNow.add(r);
                        e.state.remove(r);
                        log(e.id, o, "delivered", attempts, null);
                    }
                    case FAILED -> failed.add(o);
                    case DELAYED -> {
                        if (schedule.expired(env.received(), now)) {
                            failed.add(new RecipientOutcome(r, Action.FAILED, o.status(), o.remoteMta(), o.diagnostic()));
                            LOG.info(() -> e.id + ": to=" + r + " gave up after " + settings.giveUpAfter().toString()
                                    .substring(2).toLowerCase(java.util.Locale.ROOT) + " in the queue");
                            continue;
                        }
                        Instant next = schedule.next(attempts, now);
                        boolean warned = old != null && old.warned();
                        e.state.put(r, new RetryState(r, attempts, next, o.status(), o.remoteMta(), o.diagnostic(), warned));
                        Duration warnAfter = settings.delayWarningAfter();
                        if (!warned && warnAfter != null && env.received() != null && !now.isBefore(env.received().plus(warnAfter)))
                            warn.add(o);
                        log(e.id, o, "deferred", attempts, next);
                    }
                }
            }
            if (!failed.isEmpty()) {
                try {
                    bouncer.failed(env, failed, () -> spool.content(e.id));
                    for (RecipientOutcome f : failed) {
                        closedNow.add(f.recipient());
                        RetryState old = e.state.remove(f.recipient());
                        log(e.id, f, "bounced", (old == null ? 0 : old.attempts()) + 1, null);
                    }
                } catch (IOException | RuntimeException ex) {
                    // Not bounced, not done: tried again later (the peer will likely refuse again, and then we bounce).
                    LOG.log(Level.WARNING, e.id + ": cannot store the bounce, trying the recipients again later: " + ex, ex);
                    for (RecipientOutcome f : failed) {
                        RetryState old = e.state.get(f.recipient());
                        e.state.put(f.recipient(), new RetryState(f.recipient(), old == null ? 1 : old.attempts() + 1,
                                now.plus(ERROR_RETRY), f.status(), f.remoteMta(), f.diagnostic(), old != null && old.warned()));
                    }
                }
            }
            if (!warn.isEmpty()) {
                try {
                    bouncer.delayed(env, warn, () -> spool.content(e.id));
                    for (RecipientOutcome w : warn) {
                        RetryState st = e.state.get(w.recipient());
                        if (st != null)
                            e.state.put(w.recipient(), new RetryState(st.recipient(), st.attempts(), st.nextAttempt(),
                                    st.status(), st.remoteMta(), st.lastError(), true));
                    }
                } catch (IOException | RuntimeException ex) {
                    LOG.log(Level.WARNING, e.id + ": cannot store the delay warning, trying after the next attempt: " + ex, ex);
                }
            }
            try {
                Set<Address> done = spool.done(e.id);
                if (e.inFlight.isEmpty() && allClosed(env, done, closedNow) && removed(e)) return;
                record(e, closedNow, done);
            } catch (NoSuchFileException gone) {
                // removed meanwhile (a queue tool): wake() lets go of it
            } catch (IOException | RuntimeException ex) {
                // the done records could not be read: what this job closed is recorded all the same, or it goes out again
                LOG.log(Level.WARNING, e.id + ": cannot read its done recipients: " + ex, ex);
                record(e, closedNow, Set.of());
            }
        }
        wake(e);
    }

    /** Marks what this job closed done and saves the retry state of the rest. With the entry's lock held. */
    private void record(Entry e, Set<Address> closedNow, Set<Address> done) {
        for (Address r : closedNow) markDone(e.id, r);
        try {
            e.state.keySet().removeIf(done::contains);
            spool.saveRetryState(e.id, List.copyOf(e.state.values()));
        } catch (NoSuchFileException gone) {
            // removed meanwhile (a queue tool): wake() lets go of it
        } catch (IOException | RuntimeException ex) {
            LOG.log(Level.WARNING, e.id + ": cannot save the retry state (a restart retries sooner): " + ex, ex);
        }
    }

    private static boolean allClosed(Envelope env, Set<Address> done, Set<Address> closedNow) {
        for (Address r : env.recipients()) if (!done.contains(r) && !closedNow.contains(r)) return false;
        return true;
    }

    /**
     * The last job of a message closed its last recipients: the message leaves the queue at once. Marking
     * them done first would only give a message still kept in memory its queue file, a .done file and their
     * fsyncs, for remove() to unlink them a moment later; the journal's D record is what makes the removal
     * durable, and a crash before it costs a duplicate, as after any delivery. False when the removal
     * failed: the recipients are then marked done as usual.
     */
    private boolean removed(Entry e) {
        try {
            spool.remove(e.id);
        } catch (IOException | RuntimeException ex) {
            LOG.log(Level.WARNING, e.id + ": cannot remove from the queue, marking its recipients done: " + ex, ex);
            return false;
        }
        LOG.info(() -> e.id + ": all recipients done, removed from the queue");
        releaseEntry(e);
        return true;
    }

    private void markDone(String id, Address r) {
        try {
            spool.markDone(id, r);
        } catch (IOException ex) {
            // Delivered or bounced, but not recorded: tried again (a duplicate, never a loss).
            LOG.log(Level.WARNING, id + ": to=" + r + " done but not marked done: " + ex, ex);
        }
    }

    private static void log(String id, RecipientOutcome o, String result, int attempts, Instant next) {
        LOG.info(() -> "outbound queue_id=" + id + " to=" + o.recipient() + " relay=" + (o.remoteMta() == null ? "none" : o.remoteMta())
                + " result=" + result + " status=" + o.status() + " attempts=" + attempts
                + (next == null ? "" : " next=" + next) + " detail=\"" + o.diagnostic().replace('"', '\'') + "\"");
    }

    /** A recipient of a destination that was unreachable is due at once, now that it answers again. */
    private void promote(String laneKey) {
        Instant now = clock.instant();
        for (Entry e : entries.values()) {
            boolean any = false;
            synchronized (e) {
                if (e.released) continue;
                for (var st : e.state.entrySet()) {
                    if (e.inFlight.contains(st.getKey()) || !st.getValue().nextAttempt().isAfter(now)) continue;
                    if (!laneKey(st.getKey().domain()).equals(laneKey)) continue;
                    RetryState s = st.getValue();
                    st.setValue(new RetryState(s.recipient(), s.attempts(), now, s.status(), s.remoteMta(), s.lastError(), s.warned()));
                    any = true;
                }
            }
            if (any) wakeSoon(e);
        }
    }

    /**
     * The queue tools' flush: every recipient waiting for its next attempt is due now, whatever its back-off.
     * Applied by wake(), after the entry's saved state is loaded, so an entry not looked at yet is flushed too.
     */
    @Override public void retryNow() {
        if (closed) return;
        int n = 0;
        for (Entry e : entries.values()) {
            synchronized (e) {
                if (e.released) continue;
                e.flush = true;
            }
            n++;
            wakeSoon(e);
        }
        int flushed = n;
        LOG.info(() -> "outbound: flush: " + flushed + " queued message(s) due now");
    }

    // ---- lanes and workers --------------------------------------------------------------------------

    private record Job(Entry entry, Envelope envelope, String lane, List<Address> recipients) {}

    private final class Lane {
        final String key;
        final ArrayDeque<Job> jobs = new ArrayDeque<>();
        final RateLimiter rate = new RateLimiter(settings.rateMessages(), settings.ratePer());
        int active;
        /** Workers keeping a session open for the next job, oldest first; each takes itself off when it wakes. */
        final List<Thread> idle = new ArrayList<>();
        volatile boolean wasDown;

        Lane(String key) { this.key = key; }
    }

    private void dispatch(Job job) {
        synchronized (lanesLock) {
            Lane lane = lanes.computeIfAbsent(job.lane, Lane::new);
            lane.jobs.add(job);
            // the n-th waiting job is the n-th keeping worker's (one woken earlier may not have taken its job yet)
            if (lane.jobs.size() <= lane.idle.size()) LockSupport.unpark(lane.idle.get(lane.jobs.size() - 1));
            pump();
        }
    }

    /** Starts workers where jobs wait, within the limits. Called with lanesLock held. */
    private void pump() {
        if (closed) return;
        boolean starved = false;
        for (Lane l : lanes.values()) {
            // jobs that a worker keeping its session will take need no new worker
            while (wantsWorker(l) && activeWorkers < settings.maxConnections()) {
                l.active++;
                activeWorkers++;
                try {
                    Thread.ofVirtual().name("outbound-" + l.key).start(() -> work(l));
                } catch (RuntimeException ex) {
                    l.active--;
                    activeWorkers--;
                    LOG.log(Level.WARNING, "outbound: cannot start a worker for " + l.key, ex);
                    return;
                }
            }
            if (wantsWorker(l)) starved = true; // only left wanting when every connection is taken
        }
        // every connection is taken and a lane has jobs: the sessions kept for other lanes give way
        if (starved) for (Lane l : lanes.values()) l.idle.forEach(LockSupport::unpark);
    }

    /** One worker: one SMTP session at a time to the lane's destination, job after job while there are any. */
    private void work(Lane lane) {
        SmtpClient conn = null;
        int sent = 0;
        Transfer.Unreachable down = null; // this destination failed during this run: don't knock again at once
        try {
            while (!closed) {
                // a session at its transaction cap is quit before the next job anyway: not worth keeping
                Job job = conn == null || sent >= MAX_PER_CONNECTION ? nextJob(lane) : nextJobKeeping(lane);
                if (job == null) break;
                List<RecipientOutcome> outcomes;
                boolean reached = false;
                try {
                    lane.rate.acquire();
                    if (conn != null && (sent >= MAX_PER_CONNECTION || !transfer.reset(conn))) {
                        conn.quit(); // RFC 5321 3.8: a client says QUIT before it closes (harmless if already broken)
                        close(conn);
                        conn = null;
                    }
                    if (conn == null && down == null) {
                        Transfer.Opened o = transfer.open(job.recipients.getFirst().domain());
                        if (o instanceof Transfer.Connected c) {
                            conn = c.client();
                            open.add(conn);
                            sent = 0;
                        } else {
                            down = (Transfer.Unreachable) o;
                        }
                    }
                    if (conn != null) {
                        Transfer.Result r = transfer.send(conn, outgoing(job));
                        outcomes = r.outcomes();
                        reached = true;
                        sent++;
                        if (!r.reusable()) {
                            close(conn);
                            conn = null;
                        }
                    } else {
                        outcomes = Transfer.all(job.recipients, down);
                    }
                } catch (IOException ex) {
                    // The queued message could not be read (removed meanwhile, or a disk error).
                    outcomes = Transfer.all(job.recipients, new Transfer.Unreachable(false, "4.3.0", null,
                            "cannot read the queued message: " + ex.getMessage()));
                }
                if (down != null && !down.permanent()) lane.wasDown = true;
                complete(job, outcomes);
                if (reached && lane.wasDown) {
                    lane.wasDown = false;
                    promote(lane.key);
                }
            }
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error ex) {
            LOG.log(Level.SEVERE, "outbound worker for " + lane.key + " stopped; its messages stay queued", ex);
        } finally {
            if (conn != null) {
                conn.quit();
                close(conn);
            }
            synchronized (lanesLock) {
                lane.active--;
                activeWorkers--;
                if (lane.active == 0 && lane.jobs.isEmpty() && !lane.rate.limited() && !lane.wasDown) lanes.remove(lane.key);
                pump();
            }
        }
    }

    private Job nextJob(Lane lane) {
        synchronized (lanesLock) {
            return lane.jobs.poll();
        }
    }

    /**
     * The lane's next job, waiting up to IDLE_KEEP for one with the session open; null when none came,
     * or when the session must give way (another lane has jobs and no connection is free) or we close.
     */
    private Job nextJobKeeping(Lane lane) {
        Thread me = Thread.currentThread();
        long until = System.nanoTime() + IDLE_KEEP.toNanos();
        while (true) {
            synchronized (lanesLock) {
                lane.idle.remove(me);
                Job job = lane.jobs.poll();
                long left = until - System.nanoTime();
                if (job != null || closed || left <= 0 || me.isInterrupted() || starvedByUs()) return job;
                lane.idle.add(me);
            }
            LockSupport.parkNanos(until - System.nanoTime()); // dispatch, pump or close unpark us
        }
    }

    /** Some lane could use another worker, and every connection is in use. With lanesLock held. */
    private boolean starvedByUs() {
        if (activeWorkers < settings.maxConnections()) return false;
        for (Lane l : lanes.values()) if (wantsWorker(l)) return true;
        return false;
    }

    /** Jobs that no worker keeping its session will take, and room for a worker in the lane's own limit. */
    private boolean wantsWorker(Lane l) {
        return l.jobs.size() > l.idle.size() && l.active < settings.maxConnectionsPerDestination();
    }

    private void close(SmtpClient c) {
        open.remove(c);
        c.close();
    }

    /** What Transfer needs to send the job's message: sizes and flags measured from the stored content. */
    private Transfer.Outgoing outgoing(Job job) throws IOException {
        Envelope env = job.envelope;
        String id = env.queueId();
        MessageData.Measure m;
        try (InputStream in = spool.content(id)) {
            m = MessageData.measure(in);
        }
        boolean utf8Addresses = !ascii(env.sender().mailbox()) || job.recipients.stream().anyMatch(r -> !ascii(r.mailbox()));
        // RFC 6531: SMTPUTF8 is needed when something the next hop must parse is UTF-8 — an address, or
        // the header (RFC 6532). A message received with SMTPUTF8 but pure ASCII throughout can go to any
        // server, as Postfix's smtputf8_autodetect does.
        boolean needsUtf8 = utf8Addresses || env.mailParameters().containsKey("SMTPUTF8") && m.nonAsciiHeader();
        boolean eightBit = m.eightBit() || "8BITMIME".equalsIgnoreCase(env.mailParameters().get("BODY"));
        return new Transfer.Outgoing(id, env.sender(), job.recipients, needsUtf8, eightBit, m.size(), () -> spool.content(id));
    }

    private static boolean ascii(String s) {
        return s.chars().allMatch(c -> c < 128);
    }

    // ---- closing ------------------------------------------------------------------------------------

    /**
     * Stops: no new jobs, timers cancelled, sessions under way get a few seconds, then their sockets are
     * closed. Everything not done stays in the spool with its state for the next start.
     */
    @Override public void close() {
        if (closed) return;
        closed = true;
        timer.shutdownNow();
        synchronized (lanesLock) {
            for (Lane l : lanes.values()) l.idle.forEach(LockSupport::unpark);
        }
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            synchronized (lanesLock) {
                if (activeWorkers == 0) break;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (SmtpClient c : open) c.close();
        for (Entry e : entries.values()) {
            synchronized (e) {
                releaseEntry(e);
            }
        }
    }
}
