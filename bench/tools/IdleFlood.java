// IdleFlood: holds many idle TCP connections open to a server, as clients waiting for a greeting do.
//
// Run in source-file mode with a JDK >= 21, no build and no dependencies:
//
//   java -Xmx64m bench/tools/IdleFlood.java --port 2525 [--host 127.0.0.1] [--connections 10000]
//        [--sources 10] [--rate 2000] [--hold-seconds S] [--connect-timeout-seconds 10]
//        [--status-seconds 1]
//
// Opens --connections connections at --rate per second at most, each bound to a source address before it
// connects, round robin over 127.0.0.2 .. 127.0.0.(1 + --sources): one loopback address has some 28,000
// ephemeral ports (net.ipv4.ip_local_port_range), and a spread also looks like many clients to the
// server. It sends nothing. It reads only to notice what the server does: a connection whose server
// closes it (or resets it) counts as closed by the server, the first reply line of the others (a 220
// greeting once the server stops waiting, a 4xx/5xx refusal) is counted by its code. Everything runs on
// one thread with a NIO selector, so 10,000 connections cost little more than their sockets.
//
// It holds them until standard input reaches its end (without --hold-seconds, at most an hour) or
// --hold-seconds have passed (then standard input is not watched), or SIGTERM; then it closes them all.
//
// stdout: a STATUS line every --status-seconds, a READY line when all connections are open, and at the
// end exactly one line:
//   RESULT connections=.. opened=.. open_at_end=.. closed_by_server=.. greeted=.. failed=.. replies=..
// (replies: first reply codes seen, e.g. 220:10000, or "-"). Exit status 0 only when every connection
// was opened and still open at the end, 1 otherwise, 2 for bad arguments or a too low open-file limit.

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

public final class IdleFlood {
    private static final int SHOWN_ERRORS = 5;
    /** Connects in progress at once: the rest wait, so a server that accepts slowly slows the flood down. */
    private static final int MAX_PENDING = 500;
    /** Without --hold-seconds the flood waits for the end of stdin, but never longer than this. */
    private static final long STDIN_HOLD_LIMIT_SECONDS = 3600;

    // --- options ---
    private static String host = "127.0.0.1";
    private static int port = -1;
    private static int connections = 10_000;
    private static int sources = 10;
    private static int rate = 2000;
    private static long holdSeconds = -1;
    private static int connectTimeoutSeconds = 10;
    private static double statusSeconds = 1;

    enum State { PENDING, OPEN, CLOSED_BY_SERVER, FAILED }

    /** One connection of the flood. */
    static final class Conn {
        final SocketChannel channel;
        final long startedAt;
        State state = State.PENDING;
        boolean greeted;

        Conn(SocketChannel channel, long startedAt) {
            this.channel = channel;
            this.startedAt = startedAt;
        }
    }

    private static final List<Conn> all = new ArrayList<>();
    private static final ArrayDeque<Conn> pendingQueue = new ArrayDeque<>();
    private static final Map<String, Integer> replies = new TreeMap<>();
    private static int started, pending, open, closedByServer, greeted, failed, errorsShown;
    private static volatile boolean stop;
    private static volatile boolean signalled;
    private static final CountDownLatch finished = new CountDownLatch(1);

    public static void main(String[] args) throws Exception {
        parse(args);
        checkFileLimit();
        InetAddress[] from = new InetAddress[sources];
        for (int i = 0; i < sources; i++) from[i] = InetAddress.getByName("127.0.0." + (2 + i));
        InetSocketAddress target = new InetSocketAddress(host, port);
        Selector selector = Selector.open();

        if (holdSeconds < 0) {
            Thread.ofPlatform().daemon().name("stdin-watch").start(() -> {
                try (InputStream in = System.in) {
                    byte[] b = new byte[256];
                    while (in.read(b) >= 0) { /* anything but the end is ignored */ }
                } catch (IOException ignored) {
                    // a broken stdin is an end too
                }
                stop = true;
                selector.wakeup();
            });
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            signalled = true;
            stop = true;
            selector.wakeup();
            try {
                finished.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exiting anyway
            }
        }));

        System.err.printf("idleflood: %d connections to %s from %s .. %s at %d/s at most%n", connections, target,
                from[0].getHostAddress(), from[sources - 1].getHostAddress(), rate);
        long start = System.nanoTime();
        long holdLimit = TimeUnit.SECONDS.toNanos(holdSeconds >= 0 ? holdSeconds : STDIN_HOLD_LIMIT_SECONDS);
        long connectTimeout = TimeUnit.SECONDS.toNanos(connectTimeoutSeconds);
        long statusEvery = (long) (statusSeconds * 1e9);
        long nextStatus = start + statusEvery;
        boolean ready = false;
        ByteBuffer buf = ByteBuffer.allocate(512);

        while (!stop) {
            long now = System.nanoTime();
            if (now - start >= holdLimit) break;

            long due = Math.min(connections, (now - start) * rate / 1_000_000_000L + 1);
            while (started < due && pending < MAX_PENDING) connect(selector, target, from[started % sources], now);

            while (!pendingQueue.isEmpty()) {
                Conn c = pendingQueue.peekFirst();
                if (c.state != State.PENDING) { pendingQueue.pollFirst(); continue; }
                if (now - c.startedAt < connectTimeout) break;
                pendingQueue.pollFirst();
                pending--;
                lose(c, State.FAILED, "connect timed out after " + connectTimeoutSeconds + " s");
            }

            selector.select(10);
            handle(selector, buf);

            if (!ready && open == connections) {
                ready = true;
                System.out.printf(Locale.ROOT, "READY open=%d seconds=%.2f%n", open, (System.nanoTime() - start) / 1e9);
                System.out.flush();
            }
            if (System.nanoTime() >= nextStatus) {
                status(start);
                nextStatus += statusEvery;
            }
        }

        // What the server did up to now, then the count.
        selector.selectNow();
        handle(selector, buf);
        int opened = open + closedByServer;
        int openAtEnd = open;
        status(start);
        for (Conn c : all) {
            try {
                c.channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        selector.close();
        String replyList = replies.isEmpty() ? "-" : String.join(",",
                replies.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue()).toList());
        System.err.printf("idleflood: %d of %d opened, %d still open at the end, %d closed by the server, %d greeted, %d failed%n",
                opened, connections, openAtEnd, closedByServer, greeted, failed);
        System.out.printf("RESULT connections=%d opened=%d open_at_end=%d closed_by_server=%d greeted=%d failed=%d replies=%s%n",
                connections, opened, openAtEnd, closedByServer, greeted, failed, replyList);
        System.out.flush();
        finished.countDown();
        if (!signalled) System.exit(openAtEnd == connections ? 0 : 1); // in a shutdown hook exit() would block
    }

    private static void connect(Selector selector, InetSocketAddress target, InetAddress source, long now) {
        started++;
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open();
            ch.configureBlocking(false);
            ch.bind(new InetSocketAddress(source, 0));
            Conn c = new Conn(ch, now);
            all.add(c);
            if (ch.connect(target)) {
                c.state = State.OPEN;
                open++;
                ch.register(selector, SelectionKey.OP_READ, c);
            } else {
                pending++;
                pendingQueue.addLast(c);
                ch.register(selector, SelectionKey.OP_CONNECT, c);
            }
        } catch (IOException e) {
            failed++;
            error("connect from " + source.getHostAddress() + ": " + e);
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // never connected
                }
            }
        }
    }

    private static void handle(Selector selector, ByteBuffer buf) {
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            Conn c = (Conn) key.attachment();
            if (!key.isValid()) continue;
            if (c.state == State.PENDING && key.isConnectable()) {
                pending--;
                try {
                    if (c.channel.finishConnect()) {
                        c.state = State.OPEN;
                        open++;
                        key.interestOps(SelectionKey.OP_READ);
                    } else {
                        pending++; // not yet: stays pending
                    }
                } catch (IOException e) {
                    lose(c, State.FAILED, "connect: " + e);
                }
            } else if (c.state == State.OPEN && key.isReadable()) {
                try {
                    buf.clear();
                    int n = c.channel.read(buf);
                    if (n < 0) {
                        open--;
                        lose(c, State.CLOSED_BY_SERVER, null);
                    } else if (n > 0 && !c.greeted) {
                        c.greeted = true;
                        greeted++;
                        String code = n >= 3 ? new String(buf.array(), 0, 3, StandardCharsets.ISO_8859_1) : "?";
                        replies.merge(code, 1, Integer::sum);
                    }
                } catch (IOException e) { // a reset
                    open--;
                    lose(c, State.CLOSED_BY_SERVER, null);
                }
            }
        }
    }

    /** A connection that is gone: closed by the server, or one that never opened. */
    private static void lose(Conn c, State state, String why) {
        c.state = state;
        if (state == State.FAILED) failed++;
        else closedByServer++;
        if (why != null) error(why);
        try {
            c.channel.close();
        } catch (IOException ignored) {
            // gone anyway
        }
    }

    private static void error(String what) {
        if (errorsShown++ < SHOWN_ERRORS) System.err.println("idleflood: " + what);
        else if (errorsShown == SHOWN_ERRORS + 1) System.err.println("idleflood: more errors, not shown");
    }

    private static void status(long start) {
        System.out.printf(Locale.ROOT, "STATUS seconds=%.1f started=%d open=%d pending=%d failed=%d closed_by_server=%d greeted=%d%n",
                (System.nanoTime() - start) / 1e9, started, open, pending, failed, closedByServer, greeted);
        System.out.flush();
    }

    /** Refuses to start when this process may not open a file per connection (plus some for the JVM). */
    private static void checkFileLimit() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            long max = os.getMaxFileDescriptorCount();
            if (max < connections + 100L) {
                System.err.printf("idleflood: the open-file limit is %d, too low for %d connections (each is a file): "
                        + "raise it (ulimit -n %d) or open fewer%n", max, connections, connections + 100);
                System.exit(2);
            }
        }
    }

    private static void parse(String[] args) {
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("-h") || a.equals("--help")) usage(0);
                if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
                String v = args[++i];
                switch (a) {
                    case "--host" -> host = v;
                    case "--port" -> port = positive(a, v);
                    case "--connections" -> connections = positive(a, v);
                    case "--sources" -> sources = positive(a, v);
                    case "--rate" -> rate = positive(a, v);
                    case "--hold-seconds" -> holdSeconds = Long.parseLong(v);
                    case "--connect-timeout-seconds" -> connectTimeoutSeconds = positive(a, v);
                    case "--status-seconds" -> statusSeconds = Double.parseDouble(v);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (port < 0) throw new IllegalArgumentException("--port is required");
            if (sources > 253) throw new IllegalArgumentException("--sources: at most 253 (127.0.0.2 .. 127.0.0.254)");
            if (holdSeconds < -1) throw new IllegalArgumentException("--hold-seconds must not be negative");
            if (statusSeconds <= 0) throw new IllegalArgumentException("--status-seconds must be positive");
        } catch (IllegalArgumentException e) {
            System.err.println("idleflood: " + e.getMessage());
            usage(2);
        }
    }

    private static int positive(String option, String value) {
        int n = Integer.parseInt(value);
        if (n <= 0) throw new IllegalArgumentException(option + " must be positive, not " + value);
        return n;
    }

    private static void usage(int status) {
        System.err.println("usage: java IdleFlood.java --port P [--host H] [--connections K] [--sources S] [--rate R]"
                + " [--hold-seconds S] [--connect-timeout-seconds S] [--status-seconds S]");
        System.exit(status);
    }
}
