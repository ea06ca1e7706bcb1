package dev.portcullis.hook;

/** HELO or EHLO. Deny refuses the greeting; the client may try again. */
public interface HeloHook extends Plugin {
    HookResult onHelo(HeloContext ctx);
}
