package dev.portcullis.hook;

/** RCPT TO. When every plugin declines, the recipient is refused with 550 5.7.1: nobody vouched for it, so it is not relayed. */
public interface RcptHook extends Plugin {
    HookResult onRcpt(RcptContext ctx);
}
