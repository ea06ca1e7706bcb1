package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(10)
class MessageDataTest {

    static String wire(String stored) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        MessageData.write(new ByteArrayInputStream(stored.getBytes(StandardCharsets.ISO_8859_1)), out);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "plain CRLF lines            | a\\r\\nb\\r\\n           | a\\r\\nb\\r\\n.\\r\\n",
            "no final CRLF (BDAT)        | a\\r\\nb                | a\\r\\nb\\r\\n.\\r\\n",
            "empty message               | ''                    | .\\r\\n",
            "bare LF becomes CRLF        | a\\nb\\n               | a\\r\\nb\\r\\n.\\r\\n",
            "bare CR becomes CRLF        | a\\rb\\r\\n             | a\\r\\nb\\r\\n.\\r\\n",
            "CR at the very end          | a\\r                   | a\\r\\n.\\r\\n",
            "CR CR LF                    | a\\r\\r\\nb\\r\\n         | a\\r\\n\\r\\nb\\r\\n.\\r\\n",
            "leading dots are doubled    | .a\\r\\n..b\\r\\nc.\\r\\n   | ..a\\r\\n...b\\r\\nc.\\r\\n.\\r\\n",
            "a lone dot line             | x\\r\\n.\\r\\ny\\r\\n        | x\\r\\n..\\r\\ny\\r\\n.\\r\\n",
            "dot after a bare LF         | x\\n.\\ny               | x\\r\\n..\\r\\ny\\r\\n.\\r\\n",
            "smuggling attempt LF.LF     | a\\n.\\nMAIL FROM:<x>\\r\\n | a\\r\\n..\\r\\nMAIL FROM:<x>\\r\\n.\\r\\n"})
    void contentIsCanonicalOnTheWire(String name, String stored, String expected) throws IOException {
        String in = unescape(stored), out = unescape(expected);
        assertEquals(out, wire(in), name);
        assertFalse(out.replace("\r\n", "").contains("\r") || out.replace("\r\n", "").contains("\n"));
        // SIZE counts the message without the transparency dots and the final ".CRLF" (RFC 1870)
        long dots = out.lines().filter(l -> l.startsWith("..")).count();
        assertEquals(out.length() - 3 - dots, MessageData.measure(new ByteArrayInputStream(in.getBytes(StandardCharsets.ISO_8859_1))).size());
    }

    @Test void largeContentCrossesBufferBoundaries() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) sb.append(i % 3 == 0 ? ".dot line " : "line ").append(i).append(i % 5 == 0 ? "\n" : "\r\n");
        String out = wire(sb.toString());
        assertTrue(out.endsWith("\r\n.\r\n"));
        assertEquals(20_000 + 1, out.split("\r\n", -1).length - 1);
        assertFalse(out.replace("\r\n", "").contains("\n"));
    }

    @Test void measureTellsUtf8HeadersAndEightBitBodies() throws IOException {
        var ascii = MessageData.measure(stream("Subject: plain\r\n\r\nbody\r\n"));
        assertFalse(ascii.nonAsciiHeader());
        assertFalse(ascii.eightBit());
        var body = MessageData.measure(stream("Subject: plain\r\n\r\ncaf\u00e9\r\n"));
        assertFalse(body.nonAsciiHeader());
        assertTrue(body.eightBit());
        var header = MessageData.measure(stream("Subject: caf\u00e9\r\n\r\nbody\r\n"));
        assertTrue(header.nonAsciiHeader());
    }

    static ByteArrayInputStream stream(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }

    static String unescape(String s) {
        return s.strip().replace("\\r", "\r").replace("\\n", "\n");
    }
}
