package dev.portcullis.hook;

/** What the data hook is given. New information goes here as a new field, never as a new overload. */
public record DataContext(Session session, Transaction tx) {}
