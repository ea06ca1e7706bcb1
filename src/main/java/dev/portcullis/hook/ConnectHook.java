package dev.portcullis.hook;

/** Called once the client has connected, before the greeting. Deny refuses the session with the reply instead of 220. */
public interface ConnectHook extends Plugin {
    HookResult onConnect(ConnectContext ctx);
}
