package dev.portcullis.hook;

/**
 * A refusal decided early (at connect, HELO or MAIL) but delivered at RCPT, so that mail to the local
 * postmaster and abuse addresses still gets through (RFC 2505 2.12, RFC 5321 4.5.1). The server enforces it
 * for every other recipient; the first deferred refusal of a session wins. One decided at MAIL concerns that
 * transaction only: the server drops it when the transaction ends.
 */
public record DeferredRejection(String check, String phase, Reply reply, boolean disconnect) {
    public static final NoteKey<DeferredRejection> KEY = NoteKey.of("deferred-rejection", DeferredRejection.class);
}
