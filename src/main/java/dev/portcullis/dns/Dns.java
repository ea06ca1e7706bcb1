package dev.portcullis.dns;

import java.net.InetAddress;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The DNS questions the server asks. Blocking by design: each session has its own virtual thread, so a
 * lookup is a method call; lookups that can overlap are started with {@link #async} and joined later.
 * Names are absolute, without the trailing dot; no search list is ever applied.
 */
public interface Dns {
    DnsAnswer<InetAddress> a(String name);
    DnsAnswer<InetAddress> aaaa(String name);
    /**
     * TXT records, each record's strings concatenated without spaces (RFC 7208 3.3); the octets as published,
     * one char per octet (ISO-8859-1), never unescaped or decoded further.
     */
    DnsAnswer<String> txt(String name);
    DnsAnswer<MxHost> mx(String name);
    /** PTR names for the address (in-addr.arpa / ip6.arpa), without trailing dots. */
    DnsAnswer<String> ptr(InetAddress address);

    /** A or AAAA, whichever matches the family of {@code like}. */
    default DnsAnswer<InetAddress> addresses(String name, InetAddress like) {
        return like instanceof java.net.Inet6Address ? aaaa(name) : a(name);
    }

    Executor VIRTUAL = Executors.newVirtualThreadPerTaskExecutor();

    /** Starts a lookup (or any blocking work) on its own virtual thread. */
    static <T> CompletableFuture<T> async(Supplier<T> lookup) {
        return CompletableFuture.supplyAsync(lookup, VIRTUAL);
    }

    /**
     * Starts {@code lookups}, which ask this Dns only and may be run more than once: by default on a virtual
     * thread of their own ({@link #async}). A Dns with a cache first tries them on the calling thread from
     * the cache alone and, when every answer is there, returns a completed future: no thread to start and
     * wake for answers already at hand. Code inside {@code lookups} that catches RuntimeException must let
     * {@link NotCached} through.
     */
    default <T> CompletableFuture<T> start(Supplier<T> lookups) {
        return async(lookups);
    }

    /**
     * The value of {@code started} once it completes, if that is by {@code deadlineNanos} (System.nanoTime):
     * get(timeout) without a timed park (see {@link Deadlines}).
     *
     * @throws TimeoutException not complete by the deadline
     * @throws ExecutionException {@code started} failed; the cause is its exception
     */
    static <T> T await(CompletableFuture<T> started, long deadlineNanos) throws TimeoutException, ExecutionException {
        CompletableFuture<T> f = started;
        ScheduledFuture<?> timer = null;
        if (!f.isDone()) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) throw new TimeoutException();
            CompletableFuture<T> copy = started.copy();
            timer = Deadlines.in(left, () -> copy.completeExceptionally(new TimeoutException()));
            f = copy;
        }
        try {
            return f.join();
        } catch (CompletionException e) {
            if (f != started && e.getCause() instanceof TimeoutException t && !started.isDone()) throw t;
            throw new ExecutionException(e.getCause());
        } catch (CancellationException e) {
            throw new ExecutionException(e);
        } finally {
            if (timer != null) timer.cancel(false);
        }
    }

    /**
     * Thrown by a lookup during {@link #start}'s cache-only try when the answer is not in the cache; start
     * catches it and runs the lookups again on their own thread. Never seen outside start.
     */
    final class NotCached extends RuntimeException {
        public static final NotCached INSTANCE = new NotCached();

        private NotCached() { super("not in the DNS cache", null, false, false); }
    }
}
