package dev.portcullis.hook;

/** The complete message, before it is queued: content checks. When every plugin declines, it goes on to the queue phase. */
public interface DataPostHook extends Plugin {
    HookResult onDataPost(DataPostContext ctx);
}
