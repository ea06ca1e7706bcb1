package dev.portcullis.hook;

/** QUIT. A Deny replaces the 221 text (the session ends either way). */
public interface QuitHook extends Plugin {
    HookResult onQuit(QuitContext ctx);
}
