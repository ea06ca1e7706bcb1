package dev.portcullis.pickup;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads maildrop files for tests in other packages (the format itself stays package-private). */
public final class MaildropFiles {
    private MaildropFiles() {}

    public record Dropped(Address sender, List<Address> recipients, String identity, String flags, byte[] message) {
        public String text() { return new String(message, StandardCharsets.UTF_8); }
    }

    public static Dropped read(Path file) throws IOException {
        Maildrop.Entry e = Maildrop.parse(Files.readAllBytes(file));
        return new Dropped(e.sender(), e.recipients(), e.identity(), e.flags(), e.message());
    }
}
