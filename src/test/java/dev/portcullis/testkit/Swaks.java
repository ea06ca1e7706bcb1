package dev.portcullis.testkit;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** swaks (the Swiss Army Knife for SMTP) against a local port, with its own timeout and ours. */
public final class Swaks {
    private Swaks() {}

    public static final String BINARY = "/usr/bin/swaks";

    public static Processes.Result run(int port, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(BINARY, "--server", "127.0.0.1", "--port", Integer.toString(port),
                "--timeout", "15", "--helo", "client.remote.test"));
        cmd.addAll(List.of(args));
        return Processes.run(Duration.ofSeconds(30), null, cmd);
    }
}
