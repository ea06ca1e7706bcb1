package dev.portcullis.cli;

import dev.portcullis.config.ConfigLoader;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "default-config", description = "Print the embedded default configuration, to start a file from.")
public final class DefaultConfigCommand implements Callable<Integer> {
    @Override public Integer call() {
        System.out.print(ConfigLoader.embeddedText());
        return 0;
    }
}
