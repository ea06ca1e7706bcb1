package dev.portcullis.config;

import dev.portcullis.hook.PluginSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tomlj.TomlArray;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * One table of the configuration file, read with typed getters that know their defaults.
 * Every key read is remembered, so {@link #finish()} can name each key nobody asked for:
 * a typo stops start-up with file and line instead of being silently ignored.
 */
final class Section implements PluginSettings {
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");
    private static final Duration MAX_DURATION = Duration.ofDays(3660);
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmg]i?b?|b)?", Pattern.CASE_INSENSITIVE);

    private final String file;
    private final String name;
    private final TomlTable table;
    private final TomlPosition where;
    private final Set<String> used = new HashSet<>();

    Section(String file, String name, TomlTable table, TomlPosition where) {
        this.file = file;
        this.name = name;
        this.table = table;
        this.where = where;
    }

    String name() { return name; }

    boolean has(String key) { return table != null && table.contains(List.of(key)); }

    @Override public String string(String key, String defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof String s) return s;
        throw error(key, "expected a string");
    }

    @Override public long integer(String key, long defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof Long l) return l;
        throw error(key, "expected a whole number");
    }

    /** A whole number that must lie in [min, max]. */
    int integer(String key, int defaultValue, int min, int max) {
        long v = integer(key, defaultValue);
        if (v < min || v > max) throw error(key, "expected a whole number from " + min + " to " + max);
        return (int) v;
    }

    /** A duration that must be longer than zero (a zero socket timeout would mean "wait forever"). */
    Duration positiveDuration(String key, Duration defaultValue) {
        Duration d = duration(key, defaultValue);
        if (d.isZero() || d.isNegative()) throw error(key, "must be longer than zero");
        return d;
    }

    /** A byte count: a whole number, or a string such as "25MB" / "512k" (binary multiples). */
    @Override public long size(String key, long defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof Long l && l >= 0) return l;
        if (v instanceof String s) {
            Matcher m = SIZE.matcher(s.trim());
            if (m.matches() && m.group(1).length() <= 15) {
                long n = Long.parseLong(m.group(1));
                String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
                int shift = switch (unit.charAt(0)) {
                    case 'k' -> 10;
                    case 'm' -> 20;
                    case 'g' -> 30;
                    default -> 0;
                };
                if (n <= (1L << 40) >> shift) return n << shift; // at most 1 TiB: anything larger is a typo
            }
        }
        throw error(key, "expected a size in bytes, such as 26214400 or \"25MB\"");
    }

    @Override public double number(String key, double defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof Long l) return l;
        if (v instanceof Double d) return d;
        throw error(key, "expected a number");
    }

    @Override public boolean bool(String key, boolean defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof Boolean b) return b;
        throw error(key, "expected true or false");
    }

    @Override public Duration duration(String key, Duration defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof String s) {
            Matcher m = DURATION.matcher(s.trim());
            if (m.matches() && m.group(1).length() <= 12) {
                long n = Long.parseLong(m.group(1));
                Duration d = switch (m.group(2)) {
                    case "ms" -> Duration.ofMillis(n);
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
                if (d.compareTo(MAX_DURATION) <= 0) return d;
                throw error(key, "a duration of at most 10 years, please");
            }
        }
        throw error(key, "expected a duration such as \"30s\", \"5m\", \"1h\" or \"500ms\"");
    }

    @Override public List<String> strings(String key, List<String> defaultValue) {
        Object v = raw(key);
        if (v == null) return defaultValue;
        if (v instanceof String s) return List.of(s);
        if (v instanceof TomlArray a) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) {
                if (!(a.get(i) instanceof String s)) throw error(key, "expected a list of strings");
                out.add(s);
            }
            return List.copyOf(out);
        }
        throw error(key, "expected a list of strings");
    }

    @Override public String choice(String key, String defaultValue, String... allowed) {
        String v = string(key, defaultValue);
        if (v == null) return null;
        String lower = v.toLowerCase(Locale.ROOT);
        for (String a : allowed) if (a.equals(lower)) return lower;
        throw error(key, "expected one of " + String.join(", ", allowed) + ", not \"" + v + "\"");
    }

    /** A nested table, or an empty section when absent. */
    Section table(String key) {
        Object v = raw(key);
        if (v == null) return new Section(file, qualified(key), null, where);
        if (v instanceof TomlTable t) return new Section(file, qualified(key), t, table.inputPositionOf(List.of(key)));
        throw error(key, "expected a table");
    }

    TomlTable tomlTable() { return table; }

    void markUsed(String key) { used.add(key); }

    Set<String> keys() {
        return table == null ? Set.of() : table.keySet();
    }

    @Override public SettingException error(String key, String message) {
        TomlPosition p = table != null && table.contains(List.of(key)) ? table.inputPositionOf(List.of(key)) : where;
        return new ConfigException(location(p) + ": " + qualified(key) + ": " + message);
    }

    ConfigException sectionError(String message) {
        return new ConfigException(location(where) + ": " + (name.isEmpty() ? "" : "[" + name + "] ") + message);
    }

    /** Stops start-up on any key that no getter asked for. */
    void finish() {
        if (table == null) return;
        for (String key : table.keySet()) {
            if (!used.contains(key))
                throw new ConfigException(location(table.inputPositionOf(List.of(key))) + ": unknown setting " + qualified(key));
        }
    }

    private Object raw(String key) {
        used.add(key);
        return table == null ? null : table.get(List.of(key));
    }

    private String qualified(String key) { return name.isEmpty() ? key : name + "." + key; }

    private String location(TomlPosition p) { return p == null ? file : file + ":" + p.line(); }
}
