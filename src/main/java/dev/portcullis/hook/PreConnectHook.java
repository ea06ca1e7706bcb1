package dev.portcullis.hook;

/**
 * Called for every plugin before any connect hook: the place to start lookups (DNSBL, rDNS) on their own
 * virtual threads, so that they run during the greeting delay and are ready when a later phase joins them.
 * It must not block.
 */
public interface PreConnectHook extends Plugin {
    void onPreConnect(ConnectContext ctx);
}
