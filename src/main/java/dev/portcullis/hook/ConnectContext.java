package dev.portcullis.hook;

/** What the connect hook is given. New information goes here as a new field, never as a new overload. */
public record ConnectContext(Session session) {}
