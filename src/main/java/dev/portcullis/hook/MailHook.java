package dev.portcullis.hook;

/** MAIL FROM. When every plugin declines, the sender is accepted. */
public interface MailHook extends Plugin {
    HookResult onMail(MailContext ctx);
}
