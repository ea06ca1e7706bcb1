package dev.portcullis.hook;

import java.util.Map;

/** What the mail hook is given. New information goes here as a new field, never as a new overload. */
public record MailContext(Session session, Transaction tx, Address sender, Map<String, String> parameters) {}
