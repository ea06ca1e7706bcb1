package dev.portcullis.hook;

/**
 * What the auth hook is given: the SASL mechanism used (PLAIN or LOGIN, RFC 4954) and the credentials it
 * carried. The password is in clear only for the duration of the call; never log it.
 */
public record AuthContext(Session session, String mechanism, String username, String password) {
    @Override public String toString() { return "AuthContext[" + mechanism + " " + username + "]"; }
}
