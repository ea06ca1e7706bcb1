package dev.portcullis.hook;

/** A command the server does not know. Ok with a note answers 250 with the note; when every plugin declines, 500 5.5.1. */
public interface UnrecognizedCommandHook extends Plugin {
    HookResult onUnrecognizedCommand(UnrecognizedCommandContext ctx);
}
