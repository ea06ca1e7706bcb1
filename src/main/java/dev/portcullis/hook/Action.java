package dev.portcullis.hook;

/**
 * What a check does when it fails; every check offers the same five (Maddy's "one action knob").
 * REJECT answers 5xx, TEMPFAIL 4xx, DISCONNECT 5xx and closes, FLAG accepts but marks the message
 * with X-Portcullis-* headers (and its score counts toward karma), OFF does not run the check at all.
 */
public enum Action {
    REJECT, TEMPFAIL, DISCONNECT, FLAG, OFF;

    public static final String[] NAMES = {"reject", "tempfail", "disconnect", "flag", "off"};

    public static Action parse(String lowerCase) { return valueOf(lowerCase.toUpperCase(java.util.Locale.ROOT)); }

    public String label() { return name().toLowerCase(java.util.Locale.ROOT); }
}
