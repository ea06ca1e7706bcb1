package dev.portcullis.config;

/** A configuration mistake, with the file and line in its message: what start-up prints instead of a stack trace. */
public final class ConfigException extends dev.portcullis.hook.PluginSettings.SettingException {
    public ConfigException(String message) { super(message); }
}
