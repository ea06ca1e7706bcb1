package dev.portcullis.hook;

/**
 * Makes a plugin from its configuration section. Built-in and third-party plugins are found the same way:
 * through {@link java.util.ServiceLoader}, by the {@link #name()} the configuration's plugin list uses.
 */
public interface PluginFactory {
    String name();

    /**
     * @throws PluginSettings.SettingException for a bad setting (the settings object adds file and line)
     */
    Plugin create(PluginSettings settings, ServerServices services);
}
