package dev.portcullis.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.hook.Address;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.RetryState;
import dev.portcullis.queue.Spool;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * One queued message as the queue tools show it: a snapshot of its envelope, size, done recipients, hold and
 * retry state, read through the spool at one moment. The server keeps working meanwhile, so a snapshot can be
 * out of date by the time it is printed; that is the nature of mailq too.
 *
 * Everything printed from here went through {@link #clean}: addresses, the HELO name, hold reasons and above
 * all the remote servers' diagnostics are chosen by others, and must not reach the administrator's terminal
 * as escape sequences.
 */
record QueuedMessage(String id, Envelope envelope, long size, Set<Address> done, String held,
                     Map<Address, RetryState> state) {

    /** The message, or empty when it is no longer queued (delivered or removed since it was listed). */
    static Optional<QueuedMessage> read(Spool spool, String id) throws IOException {
        try {
            Envelope envelope = spool.envelope(id);
            long size = contentSize(spool, id);
            return Optional.of(new QueuedMessage(id, envelope, size, spool.done(id), spool.heldReason(id),
                    spool.retryState(id)));
        } catch (NoSuchFileException gone) {
            return Optional.empty();
        }
    }

    /** The size of the stored content (what the client sent, with our Received field), skipped through, not read. */
    private static long contentSize(Spool spool, String id) throws IOException {
        try (InputStream in = spool.content(id)) {
            long n = 0;
            while (true) {
                long k = in.skip(Long.MAX_VALUE);
                if (k > 0) {
                    n += k;
                } else if (in.read() >= 0) {
                    n++;
                } else {
                    return n;
                }
            }
        }
    }

    /** The envelope's recipients, each once, in envelope order. */
    List<Address> recipients() { return List.copyOf(new LinkedHashSet<>(envelope.recipients())); }

    /** Recipients not done yet (neither delivered nor bounced nor dropped). */
    List<Address> pending() { return recipients().stream().filter(r -> !done.contains(r)).toList(); }

    /** "done", "held" (not done, message on hold) or "pending". */
    String stateOf(Address r) {
        if (done.contains(r)) return "done";
        return held != null ? "held" : "pending";
    }

    /** The last error of a recipient as the retry state has it ("4.4.1 connect to ...: refused"), or null. */
    String lastError(Address r) {
        RetryState s = state.get(r);
        if (s == null || s.lastError() == null && s.status() == null) return null;
        if (s.lastError() == null) return s.status();
        return s.status() == null || s.lastError().startsWith(s.status()) ? s.lastError() : s.status() + " " + s.lastError();
    }

    // ---- text ---------------------------------------------------------------------------------------

    /** The mailq lines of this message: the message line, then one indented line per recipient. */
    List<String> listLines(int idWidth, Instant now) {
        List<String> out = new ArrayList<>();
        out.add(String.format("%-" + idWidth + "s  %8d  %4s  %s%s", id, size, age(envelope.received(), now),
                clean(envelope.sender().path()), held == null ? "" : "  HELD: " + clean(held)));
        for (Address r : recipients()) out.add("    " + clean(r.path()) + "  " + recipientDetail(r, now));
        return out;
    }

    /** "pending, 2 attempts, next in 59m: 4.4.1 connect to ..." */
    private String recipientDetail(Address r, Instant now) {
        StringBuilder sb = new StringBuilder(stateOf(r));
        RetryState s = state.get(r);
        if (s != null && !done.contains(r)) {
            if (s.attempts() > 0) sb.append(", ").append(s.attempts()).append(s.attempts() == 1 ? " attempt" : " attempts");
            if (held == null)
                sb.append(s.nextAttempt().isAfter(now) ? ", next in " + age(now, s.nextAttempt()) : ", due now");
            String err = lastError(r);
            if (err != null) sb.append(": ").append(clean(err));
        }
        return sb.toString();
    }

    /** Everything {@code queue show} prints but the header section. */
    List<String> showLines(Instant now) {
        List<String> out = new ArrayList<>();
        Envelope e = envelope;
        out.add("queue id    " + id);
        out.add("size        " + size + " bytes");
        out.add("received    " + (e.received() == null ? "unknown"
                : e.received().truncatedTo(ChronoUnit.SECONDS) + " (" + age(e.received(), now) + " ago)"));
        out.add("sender      " + clean(e.sender().path()));
        out.add("client      " + clean(String.valueOf(e.clientAddress())) + " helo " + clean(String.valueOf(e.helo())));
        out.add("auth        " + (e.authUser() == null ? "-" : clean(e.authUser())));
        if (!e.mailParameters().isEmpty()) {
            List<String> params = new ArrayList<>();
            new TreeMap<>(e.mailParameters()).forEach((k, v) -> params.add(v.isEmpty() ? k : k + "=" + v));
            out.add("parameters  " + clean(String.join(" ", params)));
        }
        out.add("hold        " + (held == null ? "not held" : clean(held)));
        out.add("recipients");
        for (Address r : recipients()) {
            out.add("  " + clean(r.path()) + "  " + stateOf(r));
            RetryState s = state.get(r);
            if (s == null || done.contains(r)) continue;
            out.add("      attempts " + s.attempts() + ", next attempt " + s.nextAttempt().truncatedTo(ChronoUnit.SECONDS)
                    + (s.nextAttempt().isAfter(now) ? " (in " + age(now, s.nextAttempt()) + ")" : " (due)")
                    + (s.remoteMta() == null ? "" : ", last host " + clean(s.remoteMta()))
                    + (s.warned() ? ", delay warning sent" : ""));
            String err = lastError(r);
            if (err != null) out.add("      last error: " + clean(err));
        }
        return out;
    }

    // ---- JSON ---------------------------------------------------------------------------------------

    ObjectNode json(ObjectMapper mapper, Instant now) {
        ObjectNode m = mapper.createObjectNode();
        m.put("id", id);
        m.put("size", size);
        m.put("received", envelope.received() == null ? null : envelope.received().toString());
        if (envelope.received() != null) m.put("age_seconds", Math.max(0, Duration.between(envelope.received(), now).toSeconds()));
        m.put("sender", envelope.sender().mailbox());
        m.put("held", held);
        m.put("client", envelope.clientAddress());
        m.put("helo", envelope.helo());
        m.put("auth", envelope.authUser());
        ArrayNode rcpts = m.putArray("recipients");
        for (Address r : recipients()) {
            ObjectNode o = rcpts.addObject();
            o.put("address", r.mailbox());
            o.put("state", stateOf(r));
            RetryState s = state.get(r);
            if (s != null && !done.contains(r)) {
                o.put("attempts", s.attempts());
                o.put("next_attempt", s.nextAttempt().toString());
                o.put("status", s.status());
                o.put("remote_mta", s.remoteMta());
                o.put("last_error", s.lastError());
                o.put("warned", s.warned());
            }
        }
        return m;
    }

    // ---- helpers ------------------------------------------------------------------------------------

    /** "45s", "12m", "3h", "2d": how long from {@code from} to {@code to}, in the largest whole unit. */
    static String age(Instant from, Instant to) {
        if (from == null) return "?";
        long s = Math.max(0, Duration.between(from, to).toSeconds());
        if (s < 60) return s + "s";
        if (s < 3600) return s / 60 + "m";
        if (s < 86400) return s / 3600 + "h";
        return s / 86400 + "d";
    }

    /**
     * Text chosen by others, made safe for a terminal: control characters (ESC, CSI, CR...), line separators and
     * invisible format characters (bidi overrides) become '?'. Tab stays (folded header lines start with one).
     */
    static String clean(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            int type = Character.getType(cp);
            boolean bad = cp != '\t' && (Character.isISOControl(cp) || type == Character.FORMAT
                    || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR);
            if (bad) sb.append('?');
            else sb.appendCodePoint(cp);
        });
        return sb.toString();
    }

    /** The header section of the content (up to the empty line), at most {@code cap} octets of the message. */
    static String header(Spool spool, String id, int cap) throws IOException {
        byte[] head;
        try (InputStream in = spool.content(id)) {
            head = in.readNBytes(cap);
        }
        int end = head.length;
        for (int i = 0; i < head.length; i++) {
            if (head[i] != '\n') continue;
            if (i + 1 < head.length && head[i + 1] == '\n') { end = i + 1; break; }
            if (i + 2 < head.length && head[i + 1] == '\r' && head[i + 2] == '\n') { end = i + 1; break; }
        }
        if (head.length > 0 && (head[0] == '\n' || head.length > 1 && head[0] == '\r' && head[1] == '\n')) end = 0;
        return new String(head, 0, end, StandardCharsets.UTF_8);
    }
}
