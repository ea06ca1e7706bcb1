package dev.portcullis.hook;

/** A transaction is abandoned: RSET, a new EHLO or STARTTLS. The result is not used. */
public interface ResetHook extends Plugin {
    void onReset(ResetContext ctx);
}
