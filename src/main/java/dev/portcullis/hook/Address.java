package dev.portcullis.hook;

import java.util.Locale;

/**
 * A mailbox from an SMTP path: {@code local@domain}, or the null sender {@code <>}.
 * The domain is kept in lower case (domains compare case-insensitively); the local part as sent.
 * {@code raw} is the path exactly as the client wrote it between the angle brackets, for checks
 * that look for tricks the parser has already normalised away (source routes, percent hacks).
 */
public record Address(String localPart, String domain, String raw) {

    public static final Address NULL_SENDER = new Address("", "", "");

    public Address {
        domain = domain.toLowerCase(Locale.ROOT);
    }

    public static Address of(String localPart, String domain) {
        return new Address(localPart, domain, localPart + "@" + domain);
    }

    public boolean isNull() { return localPart.isEmpty() && domain.isEmpty(); }

    /** The mailbox as written in a path, without angle brackets; empty for the null sender. */
    public String mailbox() { return isNull() ? "" : localPart + "@" + domain; }

    /** The path with angle brackets, as in MAIL FROM and Return-Path. */
    public String path() { return "<" + mailbox() + ">"; }

    @Override public String toString() { return path(); }
}
