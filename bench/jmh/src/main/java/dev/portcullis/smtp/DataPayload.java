package dev.portcullis.smtp;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * A message as a client sends it after the 354 (dot-stuffed, ended by CRLF "." CRLF) and the content the
 * server must keep of it (unstuffed, every line ending in CRLF). Lines are words from a fixed seed, so every
 * run measures the same bytes.
 */
final class DataPayload {
    private static final String[] WORDS = {
        "the", "message", "queue", "relay", "spam", "greylisting", "of", "and", "delivery", "portcullis",
        "a", "to", "server", "recipient", "envelope", "header", "mailbox", "is", "for", "with"};

    /** What the client sends: the stuffed lines and the end-of-data line. */
    final byte[] wire;
    /** What readData must store. */
    final byte[] content;
    /** Body lines that start with '.', so went over the wire as "..". */
    final int dottedLines;

    private DataPayload(byte[] wire, byte[] content, int dottedLines) {
        this.wire = wire;
        this.content = content;
        this.dottedLines = dottedLines;
    }

    /**
     * @param contentSize octets of content, header section included
     * @param lineLength  octets of each body line without CRLF (the last one is shorter)
     * @param dotEvery    every n-th body line starts with '.'; 0 for none, 1 for all
     */
    static DataPayload of(int contentSize, int lineLength, int dotEvery) {
        var content = new ByteArrayOutputStream(contentSize);
        var wire = new ByteArrayOutputStream(contentSize + contentSize / 8 + 3);
        String header = "From: Sender <sender@example.org>\r\n"
                + "To: Alice <alice@example.test>\r\n"
                + "Subject: a benchmark message\r\n"
                + "Date: Wed, 1 May 2024 12:00:00 +0000\r\n"
                + "Message-ID: <20240501120000.bench@example.org>\r\n"
                + "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\n"
                + "\r\n";
        byte[] h = header.getBytes(StandardCharsets.US_ASCII);
        content.writeBytes(h);
        wire.writeBytes(h);
        Random random = new Random(42);
        int dotted = 0;
        for (int n = 1; content.size() + 3 <= contentSize; n++) {
            int length = Math.min(lineLength, contentSize - content.size() - 2);
            StringBuilder line = new StringBuilder(length + 8);
            boolean dot = dotEvery > 0 && n % dotEvery == 0;
            if (dot) line.append('.');
            while (line.length() < length) line.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
            line.setLength(length);
            if (line.charAt(length - 1) == ' ') line.setCharAt(length - 1, 'x'); // no trailing blank
            byte[] text = line.toString().getBytes(StandardCharsets.US_ASCII);
            content.writeBytes(text);
            content.writeBytes(new byte[] {'\r', '\n'});
            if (text[0] == '.') {
                wire.write('.'); // RFC 5321 4.5.2: the client doubles a leading dot
                dotted++;
            }
            wire.writeBytes(text);
            wire.writeBytes(new byte[] {'\r', '\n'});
        }
        wire.writeBytes(new byte[] {'.', '\r', '\n'});
        return new DataPayload(wire.toByteArray(), content.toByteArray(), dotted);
    }
}
