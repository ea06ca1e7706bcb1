package dev.portcullis.server;

import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.ServerServices;
import java.nio.file.Path;
import java.time.Clock;

record Services(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients) implements ServerServices {}
