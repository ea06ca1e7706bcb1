package dev.portcullis.hook;

/** What the reset hook is given. New information goes here as a new field, never as a new overload. */
public record ResetContext(Session session, Transaction tx) {}
