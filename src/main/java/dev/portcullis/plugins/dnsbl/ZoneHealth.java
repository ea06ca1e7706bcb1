package dev.portcullis.plugins.dnsbl;

import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Broken zone detection, RFC 5782 5: a DNSxL must list 127.0.0.2 and must not list 127.0.0.1. A zone that
 * fails (a dead list whose domain now has a wildcard, a resolver that rewrites NXDOMAIN, a list refusing
 * our resolver) would otherwise list or clear every client, so it is ignored until it looks sane again.
 *
 * <p>Invariants: tests run lazily, on a virtual thread, never at server start; a zone is tested once on
 * first use and then at most every {@link #RECHECK} (or {@link #RETRY} after an inconclusive test);
 * a zone never seen sane does not count, and the sessions that arrive while its first test runs wait for
 * that test (within their own lookup timeout) instead of starting another. Transitions are logged once:
 * WARNING when a zone turns broken, INFO when it recovers. Thread-safe: one instance per plugin.
 */
final class ZoneHealth {
    private static final Logger LOG = Logger.getLogger("portcullis.plugins.dnsbl");

    static final Duration RECHECK = Duration.ofMinutes(10);
    static final Duration RETRY = Duration.ofMinutes(1);

    /** Whether a zone may be used now, and if not, why. */
    record Status(boolean usable, String reason) {
        static final Status OK = new Status(true, "");
    }

    private enum State { UNKNOWN, SANE, BROKEN }

    private enum Outcome { SANE, BROKEN, INCONCLUSIVE }

    private record Test(Outcome outcome, String reason) {}

    private static final class Entry {
        State state = State.UNKNOWN;
        String reason = "not tested yet";
        Instant due = Instant.MIN;
        CompletableFuture<Status> running;
    }

    private final String check;
    private final Dns dns;
    private final Clock clock;
    private final boolean enabled;
    private final ConcurrentHashMap<String, Entry> zones = new ConcurrentHashMap<>();

    ZoneHealth(String check, Dns dns, Clock clock, boolean enabled) {
        this.check = check;
        this.dns = dns;
        this.clock = clock;
        this.enabled = enabled;
    }

    /**
     * The zone's status for a session starting now. Starts a test in the background when one is due; only
     * a zone never judged before makes the caller wait (the returned future completes with that first test).
     */
    CompletableFuture<Status> status(String zone) {
        if (!enabled) return CompletableFuture.completedFuture(Status.OK);
        Entry e = zones.computeIfAbsent(zone, z -> new Entry());
        synchronized (e) {
            boolean due = e.state == State.UNKNOWN || !clock.instant().isBefore(e.due);
            if (due && e.running == null) {
                CompletableFuture<Status> result = new CompletableFuture<>();
                e.running = result;
                Dns.async(() -> test(zone)).whenComplete((t, failure) -> result.complete(
                        record(zone, e, failure == null ? t : new Test(Outcome.INCONCLUSIVE, "test failed: " + failure))));
            }
            if (e.state == State.UNKNOWN && e.running != null) return e.running;
            return CompletableFuture.completedFuture(current(e));
        }
    }

    private Status record(String zone, Entry e, Test t) {
        synchronized (e) {
            e.running = null;
            State before = e.state;
            switch (t.outcome()) {
                case SANE -> {
                    e.state = State.SANE;
                    e.due = clock.instant().plus(RECHECK);
                    if (before == State.BROKEN) LOG.info(() -> check + ": zone " + zone + " looks sane again and is used");
                    else LOG.fine(() -> check + ": zone " + zone + " passed the RFC 5782 test entries");
                }
                case BROKEN -> {
                    e.state = State.BROKEN;
                    e.due = clock.instant().plus(RECHECK);
                    if (before != State.BROKEN)
                        LOG.warning(() -> check + ": zone " + zone + " looks broken and is ignored until it looks sane again: " + t.reason());
                }
                case INCONCLUSIVE -> {
                    e.due = clock.instant().plus(RETRY);
                    LOG.fine(() -> check + ": zone " + zone + " test inconclusive: " + t.reason());
                }
            }
            e.reason = t.reason();
            if (e.state == State.UNKNOWN) return new Status(false, "zone not verified yet (" + t.reason() + ")");
            return current(e);
        }
    }

    private static Status current(Entry e) {
        return switch (e.state) {
            case SANE -> Status.OK;
            case BROKEN -> new Status(false, "zone ignored, looks broken: " + e.reason);
            case UNKNOWN -> new Status(false, "zone not verified yet (" + e.reason + ")");
        };
    }

    /** RFC 5782 5: 2.0.0.127 must be listed, 1.0.0.127 must not. */
    private Test test(String zone) {
        DnsAnswer<InetAddress> two = dns.a("2.0.0.127." + zone);
        DnsAnswer<InetAddress> one = dns.a("1.0.0.127." + zone);
        if (two.isTemporaryFailure() || one.isTemporaryFailure())
            return new Test(Outcome.INCONCLUSIVE, "test entry lookup failed (timeout or server failure)");
        ZoneAnswers.Lookup listed = ZoneAnswers.evaluate(zone, two);
        switch (listed.kind()) {
            case ERROR -> { return new Test(Outcome.BROKEN, "test entry 127.0.0.2: " + listed.reason()); }
            case NOT_LISTED -> { return new Test(Outcome.BROKEN, "does not list the test entry 127.0.0.2"); }
            case LISTED -> { /* as it must */ }
        }
        ZoneAnswers.Lookup clean = ZoneAnswers.evaluate(zone, one);
        return switch (clean.kind()) {
            case LISTED -> new Test(Outcome.BROKEN, "lists 127.0.0.1 (" + ZoneAnswers.codes(clean.codes()) + "), which no list may");
            case ERROR -> new Test(Outcome.BROKEN, "test entry 127.0.0.1: " + clean.reason());
            case NOT_LISTED -> new Test(Outcome.SANE, "sane");
        };
    }
}
