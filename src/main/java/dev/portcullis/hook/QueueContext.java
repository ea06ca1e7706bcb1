package dev.portcullis.hook;

/** What the queue hook is given. New information goes here as a new field, never as a new overload. */
public record QueueContext(Session session, Transaction tx, Message message) {}
