package dev.portcullis.plugins.spamassassin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A client of spamd's protocol (SPAMC/SPAMD 1.5, as spamc speaks it): one connection per message, the
 * {@code SYMBOLS} command, the message as it will be stored, and back the verdict line
 * {@code Spam: True ; 15.3 / 5.0} and the names of the rules that hit.
 *
 * Invariant: {@link #check} never takes longer than the timeout it was built with, connecting included. Java
 * cannot put a read timeout on a Unix-domain channel, so one watchdog closes the channel at the deadline,
 * which ends whatever blocking call the session's thread is in, for TCP and Unix sockets alike.
 */
final class SpamdClient {
    /** spamd answers a few hundred octets for SYMBOLS; anything near this is not spamd. */
    private static final int MAX_ANSWER = 1 << 20;
    private static final Pattern STATUS = Pattern.compile("SPAMD/(\\d+\\.\\d+)\\s+(\\d+)\\s*(.*)");
    private static final Pattern SPAM = Pattern.compile(
            "(True|False|Yes|No)\\s*;\\s*(-?\\d+(?:\\.\\d+)?)\\s*/\\s*(-?\\d+(?:\\.\\d+)?)", Pattern.CASE_INSENSITIVE);

    /** spamd's verdict: its own opinion, the score, its required score and the rules that hit. */
    record Verdict(boolean spam, double score, double required, List<String> rules) {}

    /** spamd could not be reached, did not answer in time, or answered something else than a verdict. */
    static final class ScanException extends IOException {
        ScanException(String message) { super(message); }
    }

    private final SocketAddress address;
    private final String where;
    private final Duration timeout;
    private final String user;
    private final ScheduledExecutorService watchdog;

    /**
     * @param host     a host name or IP literal with port (TCP), or null when {@code socket} is set
     * @param socket   a Unix-domain socket path, or null
     * @param user     the {@code User} header (spamd's per-user preferences), or empty for none
     */
    SpamdClient(InetSocketAddress host, String socket, Duration timeout, String user, ScheduledExecutorService watchdog) {
        this.address = socket != null ? UnixDomainSocketAddress.of(socket) : host;
        this.where = socket != null ? socket : host.getHostString() + ":" + host.getPort();
        this.timeout = timeout;
        this.user = user;
        this.watchdog = watchdog;
    }

    String where() { return where; }

    /** Scans {@code size} octets read from {@code message}. */
    Verdict check(InputStream message, long size) throws ScanException {
        AtomicBoolean timedOut = new AtomicBoolean();
        SocketChannel channel = null;
        ScheduledFuture<?> deadline = null;
        try {
            channel = address instanceof UnixDomainSocketAddress
                    ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
            SocketChannel ch = channel;
            deadline = watchdog.schedule(() -> {
                timedOut.set(true);
                closeQuietly(ch);
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            SocketAddress target = address instanceof InetSocketAddress inet && inet.isUnresolved()
                    ? new InetSocketAddress(inet.getHostString(), inet.getPort()) : address;
            channel.connect(target);
            OutputStream out = Channels.newOutputStream(channel);
            StringBuilder request = new StringBuilder("SYMBOLS SPAMC/1.5\r\n")
                    .append("Content-length: ").append(size).append("\r\n");
            if (!user.isEmpty()) request.append("User: ").append(user).append("\r\n");
            request.append("\r\n");
            out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
            long copied = message.transferTo(out);
            if (copied != size) throw new ScanException("message was " + copied + " octets, not " + size);
            out.flush();
            channel.shutdownOutput();
            return parse(readAnswer(Channels.newInputStream(channel))); // a whole answer counts, however late
        } catch (ScanException e) {
            throw timedOut.get() ? new ScanException("timed out after " + describe(timeout)) : e;
        } catch (IOException | RuntimeException e) {
            if (timedOut.get()) throw new ScanException("timed out after " + describe(timeout));
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new ScanException(why);
        } finally {
            if (deadline != null) deadline.cancel(false);
            if (channel != null) closeQuietly(channel);
        }
    }

    private static byte[] readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream answer = new ByteArrayOutputStream(512);
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) >= 0; ) {
            answer.write(buf, 0, n);
            if (answer.size() > MAX_ANSWER) throw new ScanException("answer longer than " + MAX_ANSWER + " octets");
        }
        return answer.toByteArray();
    }

    /**
     * The answer to SYMBOLS: {@code SPAMD/1.1 0 EX_OK}, header lines ({@code Content-length},
     * {@code Spam: True ; 15.3 / 5.0}), an empty line, then the rule names separated by commas.
     */
    static Verdict parse(byte[] answer) throws ScanException {
        String text = new String(answer, StandardCharsets.ISO_8859_1);
        if (text.isEmpty()) throw new ScanException("spamd closed the connection without an answer");
        int blank = text.indexOf("\r\n\r\n");
        int bodyStart = blank < 0 ? text.length() : blank + 4;
        String[] head = (blank < 0 ? text : text.substring(0, blank)).split("\r?\n");
        Matcher status = STATUS.matcher(head[0].strip());
        if (!status.matches()) throw new ScanException("not a spamd answer: " + printable(head[0]));
        if (!status.group(2).equals("0"))
            throw new ScanException("spamd answered " + status.group(2) + " " + printable(status.group(3)));
        Verdict verdict = null;
        for (int i = 1; i < head.length; i++) {
            String line = head[i];
            int colon = line.indexOf(':');
            if (colon <= 0 || !line.substring(0, colon).strip().equalsIgnoreCase("Spam")) continue;
            Matcher m = SPAM.matcher(line.substring(colon + 1).strip());
            if (!m.matches()) throw new ScanException("malformed Spam header: " + printable(line));
            String flag = m.group(1).toLowerCase(Locale.ROOT);
            verdict = new Verdict(flag.equals("true") || flag.equals("yes"), Double.parseDouble(m.group(2)),
                    Double.parseDouble(m.group(3)), List.of());
        }
        if (verdict == null) throw new ScanException("spamd's answer has no Spam header");
        List<String> rules = new ArrayList<>();
        for (String rule : text.substring(bodyStart).split(",")) {
            String r = rule.strip();
            if (!r.isEmpty() && r.chars().allMatch(c -> c > ' ' && c < 127)) rules.add(r);
        }
        return new Verdict(verdict.spam(), verdict.score(), verdict.required(), List.copyOf(rules));
    }

    private static String printable(String s) {
        String t = s.replaceAll("[^ -~]", "?");
        return t.length() > 100 ? t.substring(0, 100) + "..." : t;
    }

    static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }
}
