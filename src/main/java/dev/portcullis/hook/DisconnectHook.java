package dev.portcullis.hook;

/** The connection is gone, however it ended: release per-session resources here. */
public interface DisconnectHook extends Plugin {
    void onDisconnect(DisconnectContext ctx);
}
