package dev.portcullis.plugins.karma;

import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.DisconnectHook;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HeloHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.ServerServices;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test only (registered in src/test/resources/META-INF/services): a stand-in for a flag-mode check that adds
 * scores to the decision trace, and a recorder of every finished session's trace and karma standing.
 *
 * <ul>
 * <li>{@code connect_scores = ["127.0.0.7=6"]}: at connect, a client with that address gets that score
 * ({@code karma-test-score@connect=flag(+6.0)}).</li>
 * <li>HELO {@code score+4.example} (or {@code score-2.5.example}) adds that score at HELO.</li>
 * </ul>
 */
public final class KarmaTestScorePlugin implements ConnectHook, HeloHook, DisconnectHook {
    static final String NAME = "karma-test-score";
    private static final Pattern HELO = Pattern.compile("score([+-]?\\d+(?:\\.\\d+)?)\\..*");

    /** A finished session: its decision trace and karma's last standing. */
    public record Finished(List<DecisionTrace.Entry> trace, Optional<KarmaPlugin.Standing> standing) {
        public long entriesOf(String plugin) { return trace.stream().filter(e -> e.plugin().equals(plugin)).count(); }

        @Override public String toString() { return trace.toString(); }
    }

    /** Finished sessions by client address, in order. Tests use distinct addresses. */
    static final Map<String, List<Finished>> FINISHED = new ConcurrentHashMap<>();

    private final Map<String, Double> connectScores;

    KarmaTestScorePlugin(Map<String, Double> connectScores) { this.connectScores = connectScores; }

    @Override public String name() { return NAME; }

    @Override public HookResult onConnect(ConnectContext ctx) {
        Double score = connectScores.get(ctx.session().remoteAddress().getHostAddress());
        if (score != null) ctx.session().trace().add(NAME, "connect", "flag", score, "configured for this client");
        return HookResult.declined();
    }

    @Override public HookResult onHelo(HeloContext ctx) {
        Matcher m = HELO.matcher(ctx.helo());
        if (m.matches()) ctx.session().trace().add(NAME, "helo", "flag", Double.parseDouble(m.group(1)), "asked by HELO");
        return HookResult.declined();
    }

    @Override public void onDisconnect(DisconnectContext ctx) {
        var s = ctx.session();
        FINISHED.computeIfAbsent(s.remoteAddress().getHostAddress(), k -> new CopyOnWriteArrayList<>())
                .add(new Finished(s.trace().entries(), s.notes().get(KarmaPlugin.STANDING)));
    }

    static List<Finished> finished(String ip) { return FINISHED.getOrDefault(ip, List.of()); }

    static Finished last(String ip) {
        List<Finished> all = finished(ip);
        if (all.isEmpty()) throw new AssertionError("no finished session from " + ip);
        return all.getLast();
    }

    public static final class Factory implements PluginFactory {
        @Override public String name() { return NAME; }

        @Override public Plugin create(PluginSettings settings, ServerServices services) {
            Map<String, Double> scores = new HashMap<>();
            for (String s : settings.strings("connect_scores", List.of())) {
                int eq = s.indexOf('=');
                if (eq < 0) throw settings.error("connect_scores", "expected ip=score");
                scores.put(s.substring(0, eq), Double.parseDouble(s.substring(eq + 1)));
            }
            return new KarmaTestScorePlugin(Map.copyOf(scores));
        }
    }
}
