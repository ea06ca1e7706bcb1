package dev.portcullis.hook;

/** What the helo hook is given. New information goes here as a new field, never as a new overload. */
public record HeloContext(Session session, String helo, boolean extended) {}
