package dev.portcullis.hook;

/** VRFY. When every plugin declines, 252 2.5.0 (cannot verify, will try delivery): no address harvesting. */
public interface VrfyHook extends Plugin {
    HookResult onVrfy(VrfyContext ctx);
}
