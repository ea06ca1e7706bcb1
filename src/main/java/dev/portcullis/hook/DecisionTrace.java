package dev.portcullis.hook;

import java.util.ArrayList;
import java.util.List;

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

    private final List<Entry> entries = new ArrayList<>();

    public void add(String plugin, String phase, String result, double score, String reason) {
        entries.add(new Entry(plugin, phase, result, score, reason));
    }

    public void add(String plugin, String phase, String result, String reason) {
        add(plugin, phase, result, 0, reason);
    }

    public List<Entry> entries() { return List.copyOf(entries); }

    /** How many verdicts so far (no copy: asked on every phase). */
    public int size() { return entries.size(); }

    /** The latest verdict, or null. */
    public Entry last() { return entries.isEmpty() ? null : entries.getLast(); }

    public double score() { return entries.stream().mapToDouble(Entry::score).sum(); }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Entry e : entries) { if (!sb.isEmpty()) sb.append("; "); sb.append(e); }
        return sb.toString();
    }
}
