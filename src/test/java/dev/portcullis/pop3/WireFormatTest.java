package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** LF to CRLF, dot-stuffing and the size that LIST reports, which must be what RETR sends less the stuffing. */
class WireFormatTest {
    static String copy(String stored, long bodyLines) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WireFormat.copy(new ByteArrayInputStream(stored.getBytes(StandardCharsets.ISO_8859_1)), out, bodyLines);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    static long size(String stored) throws IOException {
        return WireFormat.size(new ByteArrayInputStream(stored.getBytes(StandardCharsets.ISO_8859_1)));
    }

    @Test void lfBecomesCrlfAndCrlfStays() throws IOException {
        assertEquals("a\r\nb\r\n\r\nc\r\n", copy("a\nb\r\n\nc\n", -1));
        assertEquals(11, size("a\nb\r\n\nc\n"));
    }

    @Test void linesStartingWithADotAreStuffedButNotCounted() throws IOException {
        String stored = ".\n..\n.x\nx.\n";
        assertEquals("..\r\n...\r\n..x\r\nx.\r\n", copy(stored, -1));
        assertEquals(".\r\n..\r\n.x\r\nx.\r\n".length(), size(stored));
    }

    @Test void aLastLineWithoutNewlineIsEnded() throws IOException {
        assertEquals("a\r\nend\r\n", copy("a\nend", -1));
        assertEquals(8, size("a\nend"));
        assertEquals("a\r\n", copy("a\r", -1), "a trailing CR is taken as the CR of the CRLF");
        assertEquals(3, size("a\r"));
        assertEquals("", copy("", -1));
        assertEquals(0, size(""));
    }

    @Test void lonelyCrInsideALineIsKept() throws IOException {
        assertEquals("a\rb\r\n", copy("a\rb\n", -1));
        assertEquals(5, size("a\rb\n"));
    }

    @Test void topStopsAfterTheBlankLineAndNLines() throws IOException {
        String m = "H: 1\r\nH2: 2\n\nb1\n.b2\nb3\n";
        assertEquals("H: 1\r\nH2: 2\r\n\r\n", copy(m, 0));
        assertEquals("H: 1\r\nH2: 2\r\n\r\nb1\r\n..b2\r\n", copy(m, 2));
        assertEquals("H: 1\r\nH2: 2\r\n\r\nb1\r\n..b2\r\nb3\r\n", copy(m, 10));
        assertEquals("only: header\r\n", copy("only: header", 0), "no blank line: the whole message is header");
    }

    @Test void largeMessagesStreamAcrossBuffers() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) sb.append(i % 7 == 0 ? ".dot line " : "line ").append(i).append('\n');
        String stored = sb.toString();
        long lines = stored.chars().filter(c -> c == '\n').count();
        assertEquals(stored.length() + lines, size(stored));
        String sent = copy(stored, -1);
        assertEquals(stored.replace("\n", "\r\n").replace("\r\n.", "\r\n..").replaceFirst("^\\.", ".."), sent);
    }
}
