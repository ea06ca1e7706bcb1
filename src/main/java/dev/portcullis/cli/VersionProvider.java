package dev.portcullis.cli;

import picocli.CommandLine;

/** The version from the jar manifest (Maven writes it), or "development" when run from classes. */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override public String[] getVersion() {
        String v = VersionProvider.class.getPackage().getImplementationVersion();
        return new String[] {"portcullis " + (v == null ? "development" : v) + " (Java " + Runtime.version() + ")"};
    }
}
