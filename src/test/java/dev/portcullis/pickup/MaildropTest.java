package dev.portcullis.pickup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaildropTest {
    @TempDir Path dir;

    static final Address QUOTED = new Address("\"john doe\"", "example.test", "\"john doe\"@example.test");
    static final Address UTF8 = Address.of("josé", "bücher.example");

    @Test void writesARoundTrippingFileIntoNew() throws IOException {
        Files.createDirectories(dir.resolve("data"));
        Maildrop m = new Maildrop(Maildrop.folder(dir.resolve("data")));
        byte[] message = "Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII);
        Path file = m.write(new Maildrop.Entry(Address.NULL_SENDER, List.of(QUOTED, UTF8, Address.of("a+b%c", "x.test")),
                "who ever", "ti", message));
        assertEquals(dir.resolve("data/maildrop/new"), file.getParent());
        assertTrue(file.getFileName().toString().matches("\\d+\\.\\d+\\.[0-9a-f]{16}"), file.toString());
        String text = Files.readString(file, StandardCharsets.ISO_8859_1);
        assertTrue(text.startsWith("portcullis-maildrop 1\nsender <>\nrcpt <\"john%20doe\"@example.test>\n"), text);
        Maildrop.Entry e = Maildrop.parse(Files.readAllBytes(file));
        assertEquals(Address.NULL_SENDER, e.sender());
        assertEquals(List.of(QUOTED, UTF8, Address.of("a+b%c", "x.test")), e.recipients());
        assertEquals("who ever", e.identity());
        assertEquals("ti", e.flags());
        assertArrayEquals(message, e.message());
    }

    @Test void refusesMalformedFilesRatherThanGuessing() {
        String[] bad = {
                "portcullis-maildrop 2\nsender <>\nrcpt <a@b>\n\nx\r\n",          // unknown version
                "portcullis-maildrop 1\nsender <>\n\nx\r\n",                        // no recipient
                "portcullis-maildrop 1\nrcpt <a@b>\n\nx\r\n",                       // no sender
                "portcullis-maildrop 1\nsender <>\nsender <>\nrcpt <a@b>\n\nx\r\n", // two senders
                "portcullis-maildrop 1\nsender <>\nrcpt <a b@c>\n\nx\r\n",          // bad address
                "portcullis-maildrop 1\nsender <>\nrcpt <>\n\nx\r\n",               // empty recipient
                "portcullis-maildrop 1\nsender <>\nrcpt a@b\n\nx\r\n",              // no brackets
                "portcullis-maildrop 1\nsender <>\nrcpt <a@b>\nbcc <c@d>\n\nx\r\n", // unknown line
                "portcullis-maildrop 1\nsender <>\nrcpt <a@b>\n",                   // no end of header
                "portcullis-maildrop 1\nsender <>\nrcpt <a@b>\n\nx\0y\r\n",        // NUL
                "portcullis-maildrop 1\r\nsender <>\r\nrcpt <a@b>\r\n\r\nx\r\n",    // CRLF header
                "portcullis-maildrop 1\nsender <>\nrcpt <%FF@b>\n\nx\r\n",          // invalid UTF-8
                "portcullis-maildrop 1\nsender <>\nrcpt <a@b>\nidentity %G1\n\nx\r\n", // bad escape
                "",
        };
        for (String b : bad)
            assertThrows(IOException.class, () -> Maildrop.parse(b.getBytes(StandardCharsets.ISO_8859_1)), b);
    }

    @Test void crlfDropsBareCrAndEndsTheLastLine() {
        assertEquals("a\r\nb\r\nc\r\n", new String(Maildrop.crlf("a\nb\r\nc".getBytes()), StandardCharsets.US_ASCII));
        assertEquals("10%20%\r\n", new String(Maildrop.crlf("10%\r20%\r\n".getBytes()), StandardCharsets.US_ASCII));
        byte[] already = "x\r\n\r\ny\r\n".getBytes();
        assertArrayEquals(already, Maildrop.crlf(already));
        assertArrayEquals(new byte[0], Maildrop.crlf(new byte[0]));
    }

    @Test void neverCreatesTheDataFolder() {
        Maildrop m = new Maildrop(Maildrop.folder(dir.resolve("nope")));
        assertThrows(NoSuchFileException.class, () -> m.write(new Maildrop.Entry(Address.NULL_SENDER,
                List.of(Address.of("a", "b")), "u", "", new byte[0])));
        assertTrue(Files.notExists(dir.resolve("nope")));
    }
}
