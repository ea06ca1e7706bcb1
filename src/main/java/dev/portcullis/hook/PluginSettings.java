package dev.portcullis.hook;

import java.time.Duration;
import java.util.List;

/**
 * One plugin's configuration section. Every getter takes the documented default; a key the plugin never
 * asks for is reported as unknown, with the file and line, and stops start-up.
 */
public interface PluginSettings {
    String string(String key, String defaultValue);
    long integer(String key, long defaultValue);
    double number(String key, double defaultValue);
    boolean bool(String key, boolean defaultValue);
    Duration duration(String key, Duration defaultValue);
    /** A byte count: a whole number, or a string such as "500KB" or "20MB" (binary multiples, at most 1 TiB). */
    long size(String key, long defaultValue);
    List<String> strings(String key, List<String> defaultValue);
    /** A value that must be one of {@code allowed} (lower case). */
    String choice(String key, String defaultValue, String... allowed);
    /** An error about this key, naming the file and line. */
    SettingException error(String key, String message);

    class SettingException extends RuntimeException {
        public SettingException(String message) { super(message); }
    }
}
