package dev.portcullis.plugins.dnsbl;

import dev.portcullis.dns.Dns;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * The query machinery dnsbl and dnswl share: {@link #start} asks every configured zone about a client at
 * once (one virtual thread per zone, never blocking the caller), {@link #join} waits for the answers until
 * {@code timeout} after the start and turns them into listings (entry, matching answer codes, weight) and
 * skips (zone could not say). Several entries may name the same zone with different filters and weights
 * (postscreen's convention); the zone is asked once. A skipped zone never counts as a listing.
 */
final class ZoneChecker {

    /** One entry whose zone listed the client with an answer its filter accepts. */
    record Listing(ZoneSpec spec, List<Inet4Address> codes, double weight, String txt) {
        /** {@code zone=answer,answer*weight}: which zone, what it answered, what that weighed. */
        String describe() { return spec.zone() + "=" + ZoneAnswers.codes(codes) + "*" + weight; }
    }

    /** What the zones said: the listings in configuration order and one line per zone that could not say. */
    record Result(List<Listing> listings, List<String> skipped, int zones) {
        double weight() { return listings.stream().mapToDouble(Listing::weight).sum(); }

        String describeListings() {
            List<String> parts = new ArrayList<>();
            for (Listing l : listings) parts.add(l.describe());
            return String.join(", ", parts);
        }
    }

    /** The lookups of one session, kept in a session note between pre_connect and the phase that joins. */
    static final class Pending {
        final long startNanos;
        final Map<String, CompletableFuture<ZoneHealth.Status>> health = new LinkedHashMap<>();
        final Map<String, CompletableFuture<ZoneAnswers.Lookup>> queries = new LinkedHashMap<>();

        Pending(long startNanos) { this.startNanos = startNanos; }
    }

    private static final int TXT_MAX = 200;

    private final List<ZoneSpec> specs;
    private final List<String> zones;
    private final double defaultWeight;
    private final Dns dns;
    private final ZoneHealth health;
    private final boolean fetchTxt;
    private final Duration timeout;

    ZoneChecker(List<ZoneSpec> specs, double defaultWeight, Dns dns, ZoneHealth health, boolean fetchTxt, Duration timeout) {
        this.specs = List.copyOf(specs);
        this.zones = specs.stream().map(ZoneSpec::zone).distinct().toList();
        this.defaultWeight = defaultWeight;
        this.dns = dns;
        this.health = health;
        this.fetchTxt = fetchTxt;
        this.timeout = timeout;
    }

    List<String> zones() { return zones; }

    /** Starts every zone's lookup (and its sanity test when due); returns at once. */
    Pending start(InetAddress client) {
        Pending p = new Pending(System.nanoTime());
        for (String zone : zones) {
            CompletableFuture<ZoneHealth.Status> status = health.status(zone);
            p.health.put(zone, status);
            ZoneHealth.Status known = status.getNow(null);
            if (known != null && !known.usable()) continue; // known broken: do not even ask
            p.queries.put(zone, dns.start(() -> lookup(client, zone)));
        }
        return p;
    }

    private ZoneAnswers.Lookup lookup(InetAddress client, String zone) {
        String name = ZoneAnswers.queryName(client, zone);
        ZoneAnswers.Lookup l = ZoneAnswers.evaluate(zone, dns.a(name));
        if (fetchTxt && l.kind() == ZoneAnswers.Kind.LISTED) {
            var txt = dns.txt(name);
            if (txt.found()) l = l.withTxt(ZoneAnswers.sanitise(txt.records().getFirst(), TXT_MAX));
        }
        return l;
    }

    /** Waits (at most until {@code timeout} after the start) and judges the answers. */
    Result join(Pending p) {
        long deadline = p.startNanos + timeout.toNanos();
        List<Listing> listings = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (String zone : zones) {
            var status = await(p.health.get(zone), deadline);
            if (status == null) {
                skipped.add(zone + ": zone test entries not answered within " + timeout.toMillis() + "ms");
                continue;
            }
            if (!status.usable()) {
                skipped.add(zone + ": " + status.reason());
                continue;
            }
            CompletableFuture<ZoneAnswers.Lookup> q = p.queries.get(zone);
            ZoneAnswers.Lookup l = q == null ? null : await(q, deadline);
            if (l == null) {
                skipped.add(zone + ": no answer within " + timeout.toMillis() + "ms");
                continue;
            }
            switch (l.kind()) {
                case ERROR -> skipped.add(zone + ": " + l.reason());
                case NOT_LISTED -> { /* clean */ }
                case LISTED -> {
                    for (ZoneSpec spec : specs) {
                        if (!spec.zone().equals(zone)) continue;
                        List<Inet4Address> matching = l.codes().stream().filter(spec::accepts).toList();
                        if (!matching.isEmpty())
                            listings.add(new Listing(spec, matching, spec.weightOr(defaultWeight), l.txt()));
                    }
                }
            }
        }
        listings.sort(java.util.Comparator.comparingInt(x -> specs.indexOf(x.spec())));
        return new Result(List.copyOf(listings), List.copyOf(skipped), zones.size());
    }

    /** The future's value, or null when it is not there by the deadline or failed. */
    private static <T> T await(CompletableFuture<T> f, long deadlineNanos) {
        try {
            return Dns.await(f, deadlineNanos);
        } catch (TimeoutException | ExecutionException e) {
            return null;
        }
    }
}
