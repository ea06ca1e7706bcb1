package dev.portcullis.server;

import dev.portcullis.dns.Dns;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.StateStore;
import dev.portcullis.hook.ServerServices;
import java.nio.file.Path;
import java.time.Clock;

record Services(Clock clock, String hostname, Path dataDir, LocalRecipients localRecipients, Dns dns, StateStore store)
        implements ServerServices {}
