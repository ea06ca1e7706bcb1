// SmtpLoad: an SMTP load generator that reports latencies (Postfix's smtp-source reports none).
//
// Run in source-file mode with a JDK >= 21, no build and no dependencies:
//
//   java bench/tools/SmtpLoad.java --port 2525 --sessions 20 --messages 2000 --size 4096 [--reuse]
//        --from sender@bench.test --to bench@bench.test [--host 127.0.0.1] [--helo NAME]
//        [--source-addresses 127.0.0.2,127.0.0.3] [--timeout-seconds 60] [--max-seconds S]
//
// N sessions run at once and share M messages. Without --reuse every message has its own connection
// (greeting, EHLO, MAIL, RCPT, DATA, QUIT); with --reuse a session sends all its messages over one
// connection (MAIL, RCPT, DATA again and again, no RSET; QUIT at the end), and opens a new one only after
// a failure. For every message it measures, with System.nanoTime, the time from sending the final "."
// line (the clock starts just before its write; the content before it was flushed already) to the end of
// the server's reply to it. Every reply code is checked: an unexpected one, a
// timeout (--timeout-seconds for each reply and for the connect) or a broken connection fails the
// message (the first few are printed to stderr). With --max-seconds no message is started after that
// many seconds: the rest count as failed, so a stalled server cannot hold the run much longer.
//
// stderr: progress and a summary. stdout, last line, exactly:
//   RESULT sent=.. failed=.. seconds=.. msgs_per_s=.. p50_ms=.. p99_ms=.. max_ms=..
// Exit status 0 only when no message failed (and no QUIT went wrong), 1 otherwise, 2 for bad arguments.

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

public final class SmtpLoad {
    /** Failures printed in full; the rest are only counted. */
    private static final int SHOWN_FAILURES = 5;
    private static final byte[] END_OF_DATA = ".\r\n".getBytes(StandardCharsets.US_ASCII);

    // --- options ---
    private static String host = "127.0.0.1";
    private static int port = -1;
    private static int sessions = 20;
    private static int messages = 1000;
    private static int size = 4096;
    private static boolean reuse;
    private static String from;
    private static String to;
    private static String helo = "smtpload.localhost";
    private static List<InetAddress> sources = List.of();
    private static int timeoutMillis = 60_000;
    private static long maxNanos = Long.MAX_VALUE;

    // --- shared state ---
    private static final AtomicInteger nextMessage = new AtomicInteger();
    private static final AtomicInteger nextSource = new AtomicInteger();
    private static final AtomicInteger failures = new AtomicInteger();
    private static final AtomicInteger quitProblems = new AtomicInteger();
    private static final AtomicLong connections = new AtomicLong();
    private static final AtomicInteger notStarted = new AtomicInteger();
    private static long startedAt;
    /** One slot per message: its latency in nanoseconds, or -1 when it failed. */
    private static long[] latencies;
    private static byte[] body;

    public static void main(String[] args) throws Exception {
        parse(args);
        latencies = new long[messages];
        Arrays.fill(latencies, -1);
        body = body(size);
        String mode = reuse ? "one connection per session (--reuse)" : "one connection per message";
        System.err.printf("smtpload: %d messages x %d B body to %s:%d, %d sessions, %s%s%n", messages, size, host, port,
                sessions, mode, sources.isEmpty() ? "" : ", from " + sources.size() + " source addresses");

        long start = System.nanoTime();
        startedAt = start;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int s = 0; s < sessions; s++) {
                int session = s;
                pool.submit(() -> runSession(session));
            }
        } // close() waits for every session
        double seconds = (System.nanoTime() - start) / 1e9;

        long[] ok = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        int sent = ok.length;
        int failed = messages - sent;
        double rate = seconds > 0 ? sent / seconds : 0;
        double p50 = ms(percentile(ok, 0.50)), p90 = ms(percentile(ok, 0.90)), p99 = ms(percentile(ok, 0.99));
        double max = ms(sent == 0 ? 0 : ok[sent - 1]);
        double mean = sent == 0 ? 0 : ms((long) Arrays.stream(ok).average().orElse(0));
        System.err.printf(Locale.ROOT, "smtpload: sent %d, failed %d, in %.2f s: %.1f msg/s over %d connections%n",
                sent, failed, seconds, rate, connections.get());
        if (sent > 0)
            System.err.printf(Locale.ROOT, "smtpload: end of DATA to 250: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms%n",
                    p50, p90, p99, max, mean);
        else
            System.err.println("smtpload: no message accepted, no latencies (the RESULT line shows 0.00)");
        if (notStarted.get() > 0)
            System.err.printf("smtpload: %d messages not started: --max-seconds ran out (counted as failed)%n", notStarted.get());
        if (quitProblems.get() > 0)
            System.err.printf("smtpload: %d sessions ended with a bad or missing reply to QUIT (after their messages were accepted)%n",
                    quitProblems.get());
        System.out.printf(Locale.ROOT, "RESULT sent=%d failed=%d seconds=%.2f msgs_per_s=%.2f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f%n",
                sent, failed, seconds, rate, p50, p99, max);
        System.out.flush();
        System.exit(failed == 0 && quitProblems.get() == 0 ? 0 : 1);
    }

    /** One session: claims messages from the shared counter until none is left. */
    private static void runSession(int session) {
        Connection c = null;
        try {
            int m;
            while ((m = nextMessage.getAndIncrement()) < messages) {
                if (System.nanoTime() - startedAt > maxNanos) { // out of time: this one and the rest fail unsent
                    notStarted.incrementAndGet();
                    continue;
                }
                try {
                    if (c == null) c = Connection.open();
                    latencies[m] = c.send(session, m);
                    if (!reuse) {
                        c.quit();
                        c = null;
                    }
                } catch (IOException | SmtpError e) {
                    fail(m, e);
                    if (c != null) c.abandon();
                    c = null; // the dialogue's state is unknown: the next message starts afresh
                }
            }
            if (c != null) c.quit();
        } catch (RuntimeException e) {
            fail(-1, e);
        }
    }

    private static void fail(int message, Exception e) {
        int n = failures.incrementAndGet();
        if (n <= SHOWN_FAILURES)
            System.err.println("smtpload: message " + message + " failed: " + e.getMessage());
        else if (n == SHOWN_FAILURES + 1)
            System.err.println("smtpload: more failures, not shown");
    }

    /** An unexpected reply (or none). */
    static final class SmtpError extends Exception {
        private static final long serialVersionUID = 1L;

        SmtpError(String message) { super(message); }
    }

    /** One SMTP connection: the client side of the dialogue, with each reply checked. */
    static final class Connection {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final byte[] line = new byte[1024];

        private Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new java.io.BufferedInputStream(socket.getInputStream(), 4096);
            this.out = new BufferedOutputStream(socket.getOutputStream(), 65536);
        }

        static Connection open() throws IOException, SmtpError {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.setSoTimeout(timeoutMillis);
                if (!sources.isEmpty())
                    s.bind(new InetSocketAddress(sources.get(Math.floorMod(nextSource.getAndIncrement(), sources.size())), 0));
                try {
                    s.connect(new InetSocketAddress(host, port), timeoutMillis);
                } catch (IOException e) {
                    throw new IOException("connect to " + host + ":" + port + ": " + e.getMessage(), e);
                }
                connections.incrementAndGet();
                Connection c = new Connection(s);
                c.expect("greeting", 220);
                c.command("EHLO " + helo, 250);
                return c;
            } catch (IOException | SmtpError | RuntimeException e) {
                s.close();
                throw e;
            }
        }

        /** One transaction; the latency from the write of the final "." line to the end of the 250. */
        long send(int session, int message) throws IOException, SmtpError {
            command("MAIL FROM:<" + from + ">", 250);
            command("RCPT TO:<" + to + ">", 250);
            command("DATA", 354);
            String headers = "From: <" + from + ">\r\n"
                    + "To: <" + to + ">\r\n"
                    + "Subject: smtpload message " + message + "\r\n"
                    + "Date: " + DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now()) + "\r\n"
                    + "Message-ID: <smtpload." + ProcessHandle.current().pid() + "." + session + "." + message + "."
                    + System.nanoTime() + "@" + helo + ">\r\n"
                    + "\r\n";
            out.write(headers.getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            // The clock starts before the write of the final "." line, not after it: on loopback the
            // server can be woken by that write and answer before the write call returns here (the
            // kernel may run it first), which would make a reply look instant.
            long sentAt = System.nanoTime();
            out.write(END_OF_DATA);
            out.flush();
            expect("end of DATA", 250);
            return System.nanoTime() - sentAt;
        }

        void quit() {
            try {
                command("QUIT", 221);
            } catch (IOException | SmtpError e) {
                if (quitProblems.incrementAndGet() <= SHOWN_FAILURES) System.err.println("smtpload: QUIT: " + e.getMessage());
            } finally {
                abandon();
            }
        }

        void abandon() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }

        private void command(String command, int expected) throws IOException, SmtpError {
            out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            expect(command.length() > 40 ? command.substring(0, 40) + "..." : command, expected);
        }

        /** Reads a whole reply (RFC 5321 4.2.1: "NNN-" lines, then one "NNN " or "NNN" line) and checks its code. */
        private void expect(String after, int expected) throws IOException, SmtpError {
            String first = null;
            while (true) {
                String l;
                try {
                    l = readLine();
                } catch (SocketTimeoutException e) {
                    throw new SmtpError("no reply to " + after + " within " + timeoutMillis / 1000 + " s");
                }
                if (l == null) throw new SmtpError("connection closed, waiting for the reply to " + after
                        + (first == null ? "" : " (so far: " + first + ")"));
                if (first == null) first = l;
                if (l.length() < 3 || !l.regionMatches(0, first, 0, 3) || (l.length() > 3 && l.charAt(3) != ' ' && l.charAt(3) != '-'))
                    throw new SmtpError("malformed reply to " + after + ": " + l);
                if (l.length() == 3 || l.charAt(3) == ' ') break;
            }
            int code;
            try {
                code = Integer.parseInt(first.substring(0, 3));
            } catch (NumberFormatException e) {
                throw new SmtpError("malformed reply to " + after + ": " + first);
            }
            if (code != expected) throw new SmtpError("expected " + expected + " to " + after + ", got: " + first);
        }

        /** One reply line without CRLF; null at end of stream. Longer lines than the buffer are cut. */
        private String readLine() throws IOException {
            int len = 0;
            while (true) {
                int b = in.read();
                if (b < 0) {
                    if (len == 0) return null;
                    throw new EOFException("connection closed in the middle of a reply line");
                }
                if (b == '\n') break;
                if (len < line.length) line[len++] = (byte) b;
            }
            if (len > 0 && line[len - 1] == '\r') len--;
            return new String(line, 0, len, StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * The message body: {@code bytes} octets (before dot-stuffing) in CRLF lines of 78 characters and a
     * shorter last one (one line of 79 when the rest would be a single octet; a body of 1 octet becomes an
     * empty line). Every tenth line starts with a dot, so the dot-stuffing (RFC 5321 4.5.2) is exercised on
     * every message. Returned stuffed, ready to send before the final ".".
     */
    static byte[] body(int bytes) {
        List<Integer> lengths = new ArrayList<>(); // line lengths without CRLF
        for (int i = 0; i < bytes / 80; i++) lengths.add(78);
        int rest = bytes % 80;
        if (rest >= 2) lengths.add(rest - 2);
        else if (rest == 1) {
            if (lengths.isEmpty()) lengths.add(0);
            else lengths.set(lengths.size() - 1, 79);
        }
        String pattern = "The quick brown fox jumps over the lazy dog, message body for smtpload. 0123456789";
        var out = new StringBuilder(bytes + lengths.size() / 10 + 2);
        for (int i = 0; i < lengths.size(); i++) {
            int len = lengths.get(i);
            if (len == 0) { out.append("\r\n"); continue; }
            String line = (i % 10 == 9 ? "." : "") + pattern.repeat(2);
            line = line.substring(0, len);
            if (line.startsWith(".")) out.append('.'); // the stuffing: the server removes it again
            out.append(line).append("\r\n");
        }
        return out.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Nearest-rank percentile of a sorted sample; 0 for an empty one. */
    static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static double ms(long nanos) { return nanos / 1e6; }

    private static void parse(String[] args) {
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--reuse" -> reuse = true;
                    case "-h", "--help" -> usage(0);
                    default -> {
                        if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
                        String v = args[++i];
                        switch (a) {
                            case "--host" -> host = v;
                            case "--port" -> port = positive(a, v);
                            case "--sessions" -> sessions = positive(a, v);
                            case "--messages" -> messages = positive(a, v);
                            case "--size" -> size = Integer.parseInt(v);
                            case "--from" -> from = v;
                            case "--to" -> to = v;
                            case "--helo" -> helo = v;
                            case "--timeout-seconds" -> timeoutMillis = positive(a, v) * 1000;
                            case "--max-seconds" -> maxNanos = positive(a, v) * 1_000_000_000L;
                            case "--source-addresses" -> {
                                var list = new ArrayList<InetAddress>();
                                for (String s : v.split(",")) if (!s.isBlank()) list.add(InetAddress.getByName(s.strip()));
                                sources = List.copyOf(list);
                            }
                            default -> throw new IllegalArgumentException("unknown option " + a);
                        }
                    }
                }
            }
            if (port < 0) throw new IllegalArgumentException("--port is required");
            if (from == null || to == null) throw new IllegalArgumentException("--from and --to are required");
            if (size < 0) throw new IllegalArgumentException("--size must not be negative");
        } catch (IllegalArgumentException | IOException e) {
            System.err.println("smtpload: " + e.getMessage());
            usage(2);
        }
    }

    private static int positive(String option, String value) {
        int n = Integer.parseInt(value);
        if (n <= 0) throw new IllegalArgumentException(option + " must be positive, not " + value);
        return n;
    }

    private static void usage(int status) {
        System.err.println("usage: java SmtpLoad.java --port P --from F --to T [--host H] [--sessions N] [--messages M]"
                + " [--size BYTES] [--reuse] [--helo NAME] [--source-addresses A,B,...] [--timeout-seconds S] [--max-seconds S]");
        System.exit(status);
    }
}
