package dev.portcullis.outbound;

import dev.portcullis.config.Config;
import dev.portcullis.dns.Dns;
import dev.portcullis.dns.DnsAnswer;
import dev.portcullis.dns.MxHost;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/*
 * Where mail for a domain goes: the addresses to try, in order (RFC 5321 5.1), or why there are none.
 *
 *  - MX records, lowest preference first; hosts of equal preference in random order (5.1: "the sender-SMTP
 *    MUST randomize them to spread the load"). For each host its AAAA then A addresses ([outbound]
 *    address_family can keep one family only).
 *  - No MX records (NODATA): the domain itself is the one host, "implicit MX" (5.1).
 *  - A null MX (RFC 7505: a single MX with the root "." as exchange): the domain accepts no mail, a
 *    permanent failure 5.1.10 at once, never retried.
 *  - The domain does not exist (NXDOMAIN): permanent, 5.1.2.
 *  - A DNS timeout or SERVFAIL anywhere that leaves us without an address: temporary, 4.4.3.
 *  - Hosts named by MX that do not resolve: temporary 4.4.4 (often a DNS change in progress; the queue
 *    lifetime turns it into a bounce if it lasts).
 *  - An MX naming this very host (our helo name): skipped, and 5.4.6 (mail loop) if nothing else is left.
 *
 * Smarthost: an IP literal is used as it is; a name is resolved to AAAA/A (never MX: the smarthost is a
 * host, like Postfix's [relayhost]); a failure to resolve it is always temporary — mail waits until the
 * administrator fixes the name rather than bouncing.
 */
final class Routes {

    /** Enough to get past a few dead hosts without spending a whole queue run on one domain. */
    static final int MAX_ADDRESSES = 10;

    record Target(String host, InetAddress address, int port) {
        @Override public String toString() {
            return (dev.portcullis.net.IpLiteral.parse(host) != null ? "" : host) + "[" + address.getHostAddress() + "]:" + port;
        }
    }

    sealed interface Route {}
    record Targets(List<Target> targets) implements Route {}
    record Failure(boolean permanent, String status, String diagnostic) implements Route {}

    private final Dns dns;
    private final Config.Outbound settings;
    private final Random random;

    Routes(Dns dns, Config.Outbound settings) {
        this(dns, settings, null);
    }

    Routes(Dns dns, Config.Outbound settings, Random random) {
        this.dns = dns;
        this.settings = settings;
        this.random = random;
    }

    /** The route for mail to {@code domain} (lower case, as in an Address). */
    Route route(String domain) {
        if (settings.viaSmarthost(domain)) return smarthost();
        return mx(domain.toLowerCase(Locale.ROOT));
    }

    private Route smarthost() {
        String host = settings.smarthostHost();
        InetAddress literal = dev.portcullis.net.IpLiteral.parse(host);
        int port = settings.smarthostPort();
        if (literal != null) return new Targets(List.of(new Target(host, literal, port)));
        Resolved r = addresses(host);
        if (r.addresses.isEmpty())
            return new Failure(false, r.temporary ? "4.4.3" : "4.4.4", "smarthost " + host
                    + (r.temporary ? ": DNS lookup failed temporarily" : ": host name not found"));
        List<Target> out = new ArrayList<>();
        for (InetAddress a : r.addresses) out.add(new Target(host, a, port));
        return new Targets(cap(out));
    }

    private Route mx(String domain) {
        if (domain.isEmpty() || domain.startsWith("["))
            return new Failure(true, "5.1.2", "address literals are not delivered to: " + domain);
        DnsAnswer<MxHost> mx = dns.mx(domain);
        List<String> hosts = new ArrayList<>();
        switch (mx.status()) {
            case TEMPFAIL -> {
                return new Failure(false, "4.4.3", "MX lookup for " + domain + " failed temporarily");
            }
            case NXDOMAIN -> {
                return new Failure(true, "5.1.2", "domain " + domain + " does not exist");
            }
            case NODATA -> hosts.add(domain); // RFC 5321 5.1: implicit MX
            case OK -> {
                List<MxHost> records = mx.records();
                // RFC 7505 3: a null MX is the only MX of its domain; one among others is a broken record we skip.
                if (records.size() == 1 && records.getFirst().host().isEmpty())
                    return new Failure(true, "5.1.10", "" + domain + " does not accept mail (null MX, RFC 7505)");
                TreeMap<Integer, List<String>> byPreference = new TreeMap<>();
                for (MxHost h : records) {
                    if (h.host().isEmpty()) continue;
                    byPreference.computeIfAbsent(h.preference(), k -> new ArrayList<>()).add(h.host().toLowerCase(Locale.ROOT));
                }
                for (List<String> same : byPreference.values()) {
                    Collections.shuffle(same, random != null ? random : ThreadLocalRandom.current());
                    for (String h : same) if (!hosts.contains(h)) hosts.add(h);
                }
            }
        }
        boolean loop = hosts.removeIf(h -> h.equals(settings.heloName()));
        List<Target> out = new ArrayList<>();
        boolean temporary = false;
        for (String h : hosts) {
            Resolved r = addresses(h);
            temporary |= r.temporary;
            for (InetAddress a : r.addresses) out.add(new Target(h, a, settings.port()));
            if (out.size() >= MAX_ADDRESSES) break;
        }
        if (!out.isEmpty()) return new Targets(cap(out));
        if (loop && hosts.isEmpty())
            return new Failure(true, "5.4.6", "mail for " + domain + " loops back to myself");
        if (temporary) return new Failure(false, "4.4.3", "address lookup for the mail hosts of " + domain + " failed temporarily");
        if (mx.status() == DnsAnswer.Status.NODATA)
            return new Failure(true, "5.1.2", "" + domain + " has no MX and no address record");
        return new Failure(false, "4.4.4", "no mail host of " + domain + " has an address");
    }

    private record Resolved(List<InetAddress> addresses, boolean temporary) {}

    private Resolved addresses(String host) {
        List<InetAddress> out = new ArrayList<>();
        boolean temporary = false;
        String family = settings.addressFamily();
        if (!family.equals("ipv4")) {
            DnsAnswer<InetAddress> aaaa = dns.aaaa(host);
            temporary |= aaaa.isTemporaryFailure();
            for (InetAddress a : aaaa.records()) if (a instanceof Inet6Address) out.add(a);
        }
        if (!family.equals("ipv6")) {
            DnsAnswer<InetAddress> a = dns.a(host);
            temporary |= a.isTemporaryFailure();
            for (InetAddress x : a.records()) if (x instanceof Inet4Address) out.add(x);
        }
        return new Resolved(out, temporary);
    }

    private static List<Target> cap(List<Target> targets) {
        return List.copyOf(targets.size() <= MAX_ADDRESSES ? targets : targets.subList(0, MAX_ADDRESSES));
    }
}
