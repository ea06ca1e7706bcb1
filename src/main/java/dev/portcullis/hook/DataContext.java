package dev.portcullis.hook;

/**
 * What the data hook is given. New information goes here as a new field, never as a new overload.
 * {@code chunked}: the content comes by BDAT (RFC 3030), whose first chunk follows the command at once,
 * rather than after a 354 reply to DATA.
 */
public record DataContext(Session session, Transaction tx, boolean chunked) {}
