package dev.portcullis.smtp;

import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.Session;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The ordered plugins and the rule that runs them: for each phase, every plugin implementing that phase's
 * hook is asked in configuration order, and the first answer that is not Declined wins. A plugin that
 * throws is a temporary failure of that phase (451 4.3.0), never a stack trace to the client.
 */
public final class HookChain {
    private static final Logger LOG = Logger.getLogger("portcullis.hook");

    /** The answer of a phase and the plugin that gave it (null when all declined). */
    public record Outcome(HookResult result, String plugin) {}

    private final List<Plugin> plugins;
    private final Map<Class<?>, List<?>> byType = new ConcurrentHashMap<>();

    public HookChain(List<Plugin> plugins) { this.plugins = List.copyOf(plugins); }

    public List<Plugin> plugins() { return plugins; }

    public <H extends Plugin> Outcome run(Class<H> hook, String phase, Session session, Function<H, HookResult> call) {
        for (H plugin : implementing(hook)) {
            HookResult result;
            int verdicts = session.trace().size();
            try {
                result = call.apply(plugin);
            } catch (RuntimeException | LinkageError | StackOverflowError e) { // a plugin's bug, not the server's state
                LOG.log(Level.WARNING, "plugin " + plugin.name() + " failed in " + phase + " for session " + session.id(), e);
                result = HookResult.denySoft(451, "4.3.0", "Temporary failure, please try again later");
            }
            if (result == null || result instanceof HookResult.Declined) continue;
            // unless the plugin said it already, in this call (not: the session's last verdict is this plugin's
            // in this phase, which an earlier recipient or message of the same connection leaves)
            if (session.trace().size() == verdicts)
                session.trace().add(plugin.name(), phase, label(result), reason(result));
            return new Outcome(result, plugin.name());
        }
        return new Outcome(HookResult.declined(), null);
    }

    /** For phases whose answer does not matter (reset, disconnect). Failures are logged and ignored. */
    public <H extends Plugin> void notify(Class<H> hook, String phase, Consumer<H> call) {
        for (H plugin : implementing(hook)) {
            try {
                call.accept(plugin);
            } catch (RuntimeException | LinkageError | StackOverflowError e) {
                LOG.log(Level.WARNING, "plugin " + plugin.name() + " failed in " + phase, e);
            }
        }
    }

    /** True when some plugin answers this phase (AUTH is offered only when one checks credentials). */
    public boolean has(Class<? extends Plugin> hook) { return !implementing(hook).isEmpty(); }

    @SuppressWarnings("unchecked")
    private <H extends Plugin> List<H> implementing(Class<H> hook) {
        return (List<H>) byType.computeIfAbsent(hook, h -> {
            List<H> out = new ArrayList<>();
            for (Plugin p : plugins) if (h.isInstance(p)) out.add((H) p);
            return List.copyOf(out);
        });
    }

    private static String label(HookResult r) {
        return switch (r) {
            case HookResult.Declined d -> "declined";
            case HookResult.Ok ok -> "ok";
            case HookResult.Deny d -> "deny";
            case HookResult.DenySoft d -> "denysoft";
        };
    }

    private static String reason(HookResult r) {
        return switch (r) {
            case HookResult.Declined d -> "";
            case HookResult.Ok ok -> ok.note() == null ? "" : ok.note();
            case HookResult.Deny d -> d.reply().toString();
            case HookResult.DenySoft d -> d.reply().toString();
        };
    }
}
