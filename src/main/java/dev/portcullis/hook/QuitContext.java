package dev.portcullis.hook;

/** What the quit hook is given. New information goes here as a new field, never as a new overload. */
public record QuitContext(Session session) {}
