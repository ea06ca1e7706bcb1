package dev.portcullis.hook;

/** The DATA (or first BDAT) command, before any content. When every plugin declines, content is accepted. */
public interface DataHook extends Plugin {
    HookResult onData(DataContext ctx);
}
