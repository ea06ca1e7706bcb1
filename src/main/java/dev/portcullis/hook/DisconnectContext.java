package dev.portcullis.hook;

/** What the disconnect hook is given. New information goes here as a new field, never as a new overload. */
public record DisconnectContext(Session session) {}
