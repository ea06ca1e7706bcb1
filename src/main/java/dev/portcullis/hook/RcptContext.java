package dev.portcullis.hook;

import java.util.Map;

/** What the rcpt hook is given. New information goes here as a new field, never as a new overload. */
public record RcptContext(Session session, Transaction tx, Address recipient, Map<String, String> parameters) {}
