package dev.portcullis.smtp;

import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.DataPostContext;
import dev.portcullis.hook.DataPostHook;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.DisconnectHook;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HeloHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.QueueContext;
import dev.portcullis.hook.QueueHook;
import dev.portcullis.hook.QuitContext;
import dev.portcullis.hook.QuitHook;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.ResetContext;
import dev.portcullis.hook.ResetHook;
import dev.portcullis.hook.UnrecognizedCommandContext;
import dev.portcullis.hook.UnrecognizedCommandHook;
import dev.portcullis.hook.VrfyContext;
import dev.portcullis.hook.VrfyHook;
import java.util.function.Consumer;
import java.util.function.Function;

/** One-phase plugins made from a lambda, for the hook-semantics tests. */
final class TestPlugins {
    private TestPlugins() {}

    static ConnectHook connect(String name, Function<ConnectContext, HookResult> f) {
        return new ConnectHook() {
            @Override public String name() { return name; }
            @Override public HookResult onConnect(ConnectContext ctx) { return f.apply(ctx); }
        };
    }

    static HeloHook helo(String name, Function<HeloContext, HookResult> f) {
        return new HeloHook() {
            @Override public String name() { return name; }
            @Override public HookResult onHelo(HeloContext ctx) { return f.apply(ctx); }
        };
    }

    static MailHook mail(String name, Function<MailContext, HookResult> f) {
        return new MailHook() {
            @Override public String name() { return name; }
            @Override public HookResult onMail(MailContext ctx) { return f.apply(ctx); }
        };
    }

    static RcptHook rcpt(String name, Function<RcptContext, HookResult> f) {
        return new RcptHook() {
            @Override public String name() { return name; }
            @Override public HookResult onRcpt(RcptContext ctx) { return f.apply(ctx); }
        };
    }

    static DataHook data(String name, Function<DataContext, HookResult> f) {
        return new DataHook() {
            @Override public String name() { return name; }
            @Override public HookResult onData(DataContext ctx) { return f.apply(ctx); }
        };
    }

    static DataPostHook dataPost(String name, Function<DataPostContext, HookResult> f) {
        return new DataPostHook() {
            @Override public String name() { return name; }
            @Override public HookResult onDataPost(DataPostContext ctx) { return f.apply(ctx); }
        };
    }

    static QueueHook queue(String name, Function<QueueContext, HookResult> f) {
        return new QueueHook() {
            @Override public String name() { return name; }
            @Override public HookResult onQueue(QueueContext ctx) { return f.apply(ctx); }
        };
    }

    static QuitHook quit(String name, Function<QuitContext, HookResult> f) {
        return new QuitHook() {
            @Override public String name() { return name; }
            @Override public HookResult onQuit(QuitContext ctx) { return f.apply(ctx); }
        };
    }

    static VrfyHook vrfy(String name, Function<VrfyContext, HookResult> f) {
        return new VrfyHook() {
            @Override public String name() { return name; }
            @Override public HookResult onVrfy(VrfyContext ctx) { return f.apply(ctx); }
        };
    }

    static UnrecognizedCommandHook unrecognized(String name, Function<UnrecognizedCommandContext, HookResult> f) {
        return new UnrecognizedCommandHook() {
            @Override public String name() { return name; }
            @Override public HookResult onUnrecognizedCommand(UnrecognizedCommandContext ctx) { return f.apply(ctx); }
        };
    }

    static ResetHook reset(String name, Consumer<ResetContext> f) {
        return new ResetHook() {
            @Override public String name() { return name; }
            @Override public void onReset(ResetContext ctx) { f.accept(ctx); }
        };
    }

    static DisconnectHook disconnect(String name, Consumer<DisconnectContext> f) {
        return new DisconnectHook() {
            @Override public String name() { return name; }
            @Override public void onDisconnect(DisconnectContext ctx) { f.accept(ctx); }
        };
    }
}
