package dev.portcullis.hook;

/** What the vrfy hook is given. New information goes here as a new field, never as a new overload. */
public record VrfyContext(Session session, String argument) {}
