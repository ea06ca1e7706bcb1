package dev.portcullis.hook;

/** What the unrecognizedcommand hook is given. New information goes here as a new field, never as a new overload. */
public record UnrecognizedCommandContext(Session session, String verb, String arguments) {}
