package dev.portcullis.hook;

/**
 * A plugin answers one or more phases by implementing their hook interfaces ({@link RcptHook}, ...).
 * The server calls each hook on the session's own virtual thread: blocking calls are fine.
 */
public interface Plugin {
    /** The name the configuration lists it under. */
    String name();

    /** Release resources when the server stops. */
    default void close() {}
}
