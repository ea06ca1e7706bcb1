package dev.portcullis.hook;

/**
 * Called for every plugin before any mail hook, once the MAIL command is valid: the place to start lookups
 * about the sender (its MX, its SPF record) on their own virtual threads, so that the lookups of several
 * plugins run at the same time and each mail hook only joins its own. It must not block.
 */
public interface PreMailHook extends Plugin {
    void onPreMail(MailContext ctx);
}
