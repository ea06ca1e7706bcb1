package dev.portcullis.pop3;

import dev.portcullis.net.LineInput;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Framing of the client's byte stream into POP3 command lines, as text. {@link LineInput} does the reading:
 * the length limit (RFC 2449 section 4: commands are at most 255 octets), flushing replies before blocking
 * (RFC 2449 section 6.6) and dropping what the client sent ahead of STLS (RFC 2595 section 4).
 */
final class LineReader {
    /** A line without its CRLF; {@code tooLong} means its content was dropped. */
    record Line(String text, boolean tooLong) {}

    private final LineInput in;

    LineReader(InputStream in, LineInput.BeforeBlock beforeBlock) {
        this.in = new LineInput(in, 8192, beforeBlock);
    }

    /** After a TLS handshake: read from the new stream, and nothing that came before it. */
    void switchTo(InputStream newIn) { in.switchTo(newIn); }

    void discardBuffered() { in.discardBuffered(); }

    /**
     * Reads one line of at most {@code max} octets (CRLF not counted). Returns null at end of stream, also when
     * the stream ends in the middle of a line (the client is gone: there is nobody to answer).
     */
    Line readLine(int max) throws IOException {
        try {
            return in.readLine(max, (bytes, length, tooLong) -> tooLong ? new Line("", true)
                    // UTF-8 so that non-ASCII passwords work; malformed bytes become U+FFFD and simply fail to match
                    : new Line(new String(bytes, 0, length, StandardCharsets.UTF_8), false));
        } catch (LineInput.CutShort gone) {
            return null;
        }
    }
}
