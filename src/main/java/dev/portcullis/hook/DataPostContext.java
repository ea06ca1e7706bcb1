package dev.portcullis.hook;

/** What the datapost hook is given. New information goes here as a new field, never as a new overload. */
public record DataPostContext(Session session, Transaction tx, Message message) {}
