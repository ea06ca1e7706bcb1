package dev.portcullis.server;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.hook.Plugin;
import dev.portcullis.hook.PluginFactory;
import dev.portcullis.hook.PluginSettings;
import dev.portcullis.hook.ServerServices;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds the plugin chain in configuration order. Built-in and third-party plugins are found the same way
 * (ServiceLoader over {@link PluginFactory}); a name nobody provides stops start-up with the file and line.
 */
final class PluginLoader {
    private PluginLoader() {}

    static List<Plugin> load(Config config, ServerServices services) {
        Map<String, PluginFactory> factories = new TreeMap<>();
        for (PluginFactory f : ServiceLoader.load(PluginFactory.class)) {
            PluginFactory previous = factories.put(f.name(), f);
            if (previous != null && previous.getClass() != f.getClass())
                throw new ConfigException("two plugins call themselves \"" + f.name() + "\": "
                        + previous.getClass().getName() + " and " + f.getClass().getName());
        }
        List<Plugin> chain = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Config.PluginEntry entry : config.plugins()) {
            PluginSettings settings = entry.settings();
            PluginFactory factory = factories.get(entry.name());
            if (factory == null)
                throw settings.error("name", "unknown plugin \"" + entry.name() + "\"; known: " + String.join(", ", factories.keySet()));
            if (!seen.add(entry.name()))
                throw settings.error("name", "plugin \"" + entry.name() + "\" is listed twice");
            chain.add(factory.create(settings, services));
            entry.finish().run();
        }
        return List.copyOf(chain);
    }
}
