package dev.portcullis.hook;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Every check's verdict on one session, in order, so a false positive can be explained from one log line.
 * One session's thread only.
 */
public final class DecisionTrace {

    public record Entry(String plugin, String phase, String result, double score, String reason) {
        @Override public String toString() {
            StringBuilder sb = new StringBuilder(plugin).append('@').append(phase).append('=').append(result);
            if (score != 0) sb.append('(').append(score > 0 ? "+" : "").append(score).append(')');
            if (reason != null && !reason.isEmpty()) sb.append(" \"").append(reason.replace('"', '\'')).append('"');
            return sb.toString();
        }
    }

    /** Phases whose verdicts concern one mail transaction; every other phase's concern the whole session. */
    private static final Set<String> TRANSACTION_PHASES = Set.of("pre_mail", "mail", "rcpt", "data", "data_post", "queue", "reset");
    /** The session log line's limit: a connection that sends thousands of messages must not log a megabyte. */
    static final int MAX_LOGGED = 200;

    private final List<Entry> entries = new ArrayList<>();
    /** Positions of the verdicts in session phases (connect, HELO, AUTH ...), in order. */
    private final List<Integer> sessionLevel = new ArrayList<>();

    /**
     * {@link #toString()} while no verdict has been added since ({@code describedSize} verdicts): a connection
     * of one message logs the same verdicts twice, on the message's line and on the connection's.
     */
    private String described;
    private int describedSize = -1;

    /** The scores' sum so far, Kahan-compensated (karma asks for it at every recipient: no walk over the list). */
    private double total;
    private double compensation;

    public void add(String plugin, String phase, String result, double score, String reason) {
        if (!TRANSACTION_PHASES.contains(phase)) sessionLevel.add(entries.size());
        entries.add(new Entry(plugin, phase, result, score, reason));
        double y = score - compensation;
        double t = total + y;
        compensation = (t - total) - y;
        total = t;
    }

    public void add(String plugin, String phase, String result, String reason) {
        add(plugin, phase, result, 0, reason);
    }

    public List<Entry> entries() { return List.copyOf(entries); }

    /** How many verdicts so far (no copy: asked on every phase). */
    public int size() { return entries.size(); }


    public double score() { return total; }

    /**
     * The verdicts that concern the transaction whose first verdict is at {@code start} ({@link #size()} when
     * it began): the session's own so far (connect, HELO, AUTH ...), then the transaction's. Not the earlier
     * transactions' of the same connection: each has its own log line.
     */
    public List<Entry> forTransaction(int start) {
        List<Entry> out = new ArrayList<>();
        for (int p : sessionLevel) {
            if (p >= start) break;
            out.add(entries.get(p));
        }
        out.addAll(entries.subList(Math.min(start, entries.size()), entries.size()));
        return out;
    }

    /** {@code describe(forTransaction(start))}, without building it again when it is the whole trace. */
    public String describeTransaction(int start) {
        boolean wholeTrace = start <= entries.size() && entries.size() <= MAX_LOGGED
                && (start == 0 || (sessionLevel.size() >= start && sessionLevel.get(start - 1) == start - 1));
        return wholeTrace ? toString() : describe(forTransaction(start));
    }

    /** The verdicts joined for a log line. */
    public static String describe(List<Entry> verdicts) {
        StringBuilder sb = new StringBuilder();
        for (Entry e : verdicts) {
            if (!sb.isEmpty()) sb.append("; ");
            sb.append(e);
        }
        return sb.toString();
    }

    /** Every verdict of the session, for its log line: the first MAX_LOGGED, then how many more there were. */
    @Override public String toString() {
        if (describedSize == entries.size()) return described;
        described = entries.size() <= MAX_LOGGED ? describe(entries) : describe(entries.subList(0, MAX_LOGGED))
                + "; and " + (entries.size() - MAX_LOGGED) + " more (each message's line has its own)";
        describedSize = entries.size();
        return described;
    }
}
