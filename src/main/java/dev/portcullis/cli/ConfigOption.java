package dev.portcullis.cli;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigLoader;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The --config option every command shares: a TOML file, or the embedded default when absent. */
final class ConfigOption {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "Configuration file (TOML). Default: the embedded configuration, data in ./data.")
    Path file;

    Config load() {
        return file == null ? ConfigLoader.embedded(Path.of("").toAbsolutePath()) : ConfigLoader.load(file);
    }

    String describe() { return file == null ? "the embedded default configuration" : file.toString(); }
}
