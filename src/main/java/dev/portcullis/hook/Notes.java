package dev.portcullis.hook;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** Typed notes that plugins leave for each other on a session or a transaction. One session's thread only. */
public final class Notes {
    private final Map<NoteKey<?>, Object> values = new IdentityHashMap<>();

    public <T> Optional<T> get(NoteKey<T> key) { return Optional.ofNullable(key.cast(values.get(key))); }

    public <T> void put(NoteKey<T> key, T value) { values.put(key, value); }

    public <T> T computeIfAbsent(NoteKey<T> key, Supplier<T> make) {
        return key.cast(values.computeIfAbsent(key, k -> make.get()));
    }

    public void remove(NoteKey<?> key) { values.remove(key); }

    public boolean has(NoteKey<?> key) { return values.containsKey(key); }
}
