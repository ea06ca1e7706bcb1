package dev.portcullis.hook;

/** Storing the message. Ok means the plugin took it over; when every plugin declines, the message goes into the durable spool. */
public interface QueueHook extends Plugin {
    HookResult onQueue(QueueContext ctx);
}
