package dev.portcullis.dns;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Cache;
import org.xbill.DNS.Credibility;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.SetResponse;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * {@link Dns} over dnsjava: the configured resolvers (or the system's), a per-try timeout and a retry
 * count, and one cache for the whole server that honours each record's TTL (dnsjava's {@link Cache},
 * negative answers included when the server sends an SOA). Each query is sent and awaited on the calling
 * thread ({@link CallerThreadIo}); only DNS is asked, never {@code /etc/hosts}.
 */
public final class DnsjavaClient implements Dns {
    private static final Logger LOG = Logger.getLogger("portcullis.dns");

    private static final CallerThreadIo IO = new CallerThreadIo();
    /** Set on a thread while {@link #start} tries lookups there from the cache alone. */
    private static final ThreadLocal<Boolean> CACHE_ONLY = new ThreadLocal<>();

    private final Resolver resolver;
    private final Cache cache;

    public DnsjavaClient(List<InetSocketAddress> servers, Duration timeout, int retries, boolean useCache) {
        List<Resolver> each = new ArrayList<>();
        if (servers.isEmpty()) {
            each.addAll(List.of(new ExtendedResolver().getResolvers())); // the system's (resolv.conf)
        } else {
            for (InetSocketAddress s : servers) each.add(new SimpleResolver(s));
        }
        for (Resolver r : each) {
            r.setTimeout(timeout);
            if (r instanceof SimpleResolver sr) sr.setIoClientFactory(IO);
        }
        ExtendedResolver r = new CallerThreadResolver(each);
        r.setTimeout(timeout);
        r.setRetries(retries);
        this.resolver = r;
        this.cache = useCache ? new Cache(DClass.IN) : null;
    }

    /**
     * The resolver every lookup runs through: dnsjava's, with its tries, server rotation, answer checks and
     * TCP fallback, but run from start to end on the asking thread (see {@link CallerThreadIo}); by default
     * {@link Resolver#send} would continue each step on the common pool.
     */
    private static final class CallerThreadResolver extends ExtendedResolver {
        CallerThreadResolver(List<Resolver> resolvers) { super(resolvers); }

        @Override public CompletionStage<Message> sendAsync(Message query) { return sendAsync(query, Runnable::run); }
    }

    @Override public <T> CompletableFuture<T> start(Supplier<T> lookups) {
        if (cache == null) return Dns.async(lookups);
        boolean nested = CACHE_ONLY.get() != null; // part of an outer try: its NotCached ends that try
        if (!nested) CACHE_ONLY.set(Boolean.TRUE);
        try {
            return CompletableFuture.completedFuture(lookups.get());
        } catch (NotCached e) {
            if (nested) throw e;
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        } finally {
            if (!nested) CACHE_ONLY.remove();
        }
        return Dns.async(lookups); // some answer must come from the network: wait for it on a thread of its own
    }

    @Override public DnsAnswer<InetAddress> a(String name) {
        return query(name, Type.A, r -> ((ARecord) r).getAddress());
    }

    @Override public DnsAnswer<InetAddress> aaaa(String name) {
        return query(name, Type.AAAA, r -> ((AAAARecord) r).getAddress());
    }

    @Override public DnsAnswer<String> txt(String name) {
        return query(name, Type.TXT, DnsjavaClient::rawText);
    }

    @Override public DnsAnswer<MxHost> mx(String name) {
        return query(name, Type.MX, r -> new MxHost(((MXRecord) r).getPriority(), strip(((MXRecord) r).getTarget())));
    }

    @Override public DnsAnswer<String> ptr(InetAddress address) {
        return query(ReverseMap.fromAddress(address), Type.PTR, r -> strip(((PTRRecord) r).getTarget()));
    }

    private <T> DnsAnswer<T> query(String name, int type, Function<Record, T> extract) {
        Name n;
        try {
            n = Name.fromString(name.endsWith(".") ? name : name + ".");
        } catch (TextParseException e) {
            return DnsAnswer.of(DnsAnswer.Status.NXDOMAIN); // not a name anything could answer for
        }
        return query(n, type, extract);
    }

    private <T> DnsAnswer<T> query(Name name, int type, Function<Record, T> extract) {
        if (CACHE_ONLY.get() != null && (cache == null || !cached(name, type))) throw NotCached.INSTANCE;
        Lookup lookup = new Lookup(name, type, DClass.IN);
        lookup.setResolver(resolver);
        lookup.setCache(cache); // null: a throw-away cache for this lookup alone
        lookup.setHostsFileParser(null); // DNS only: /etc/hosts is not what a client's or a zone's DNS says
        Record[] records = lookup.run();
        return switch (lookup.getResult()) {
            case Lookup.SUCCESSFUL -> {
                List<T> out = new ArrayList<>();
                for (Record r : records) if (r.getType() == type) out.add(extract.apply(r));
                yield DnsAnswer.ok(out);
            }
            case Lookup.HOST_NOT_FOUND -> DnsAnswer.of(DnsAnswer.Status.NXDOMAIN);
            case Lookup.TYPE_NOT_FOUND -> DnsAnswer.of(DnsAnswer.Status.NODATA);
            default -> {
                LOG.fine(() -> "DNS " + Type.string(type) + " " + name + ": " + lookup.getErrorString());
                yield DnsAnswer.of(DnsAnswer.Status.TEMPFAIL);
            }
        };
    }

    /**
     * Whether the cache holds the final answer (records, NXDOMAIN or NODATA) with the credibility a Lookup
     * accepts; a CNAME is not final, as its target may have to be asked.
     */
    private boolean cached(Name name, int type) {
        SetResponse sr = cache.lookupRecords(name, type, Credibility.NORMAL);
        return sr.isSuccessful() || sr.isNXDOMAIN() || sr.isNXRRSET();
    }

    /**
     * The record's octets, each as one char (ISO-8859-1), strings joined: getStrings() would give the
     * zone-file presentation form ({@code \"}, {@code \013}), which is not what the domain published.
     */
    private static String rawText(Record r) {
        StringBuilder sb = new StringBuilder();
        for (byte[] part : ((TXTRecord) r).getStringsAsByteArrays()) sb.append(new String(part, java.nio.charset.StandardCharsets.ISO_8859_1));
        return sb.toString();
    }

    private static String strip(Name n) {
        String s = n.toString();
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
}
