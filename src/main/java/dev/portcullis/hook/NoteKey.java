package dev.portcullis.hook;

/**
 * A typed key for a note on a session or transaction. Keys compare by identity:
 * declare each one once as a constant, so two plugins cannot collide by picking the same string.
 */
public final class NoteKey<T> {
    private final String name;
    private final Class<T> type;

    private NoteKey(String name, Class<T> type) { this.name = name; this.type = type; }

    public static <T> NoteKey<T> of(String name, Class<T> type) { return new NoteKey<>(name, type); }

    public String name() { return name; }
    T cast(Object o) { return type.cast(o); }

    @Override public String toString() { return name; }
}
