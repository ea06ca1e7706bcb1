package dev.portcullis.smtp;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Feeds one {@link DataPayload} to {@link SmtpInput#readData} again and again, as a session that receives
 * the same message over and over: one SmtpInput for the session, a new {@link MessageBuffer} per message
 * (as SmtpSession does). Checked once when made, so a benchmark never measures a read that went wrong.
 */
final class DataReplay {
    /** The default max_message_size (25 MiB): the buffer grows as it does in the server. */
    private static final long LIMIT = 25L << 20;

    final DataPayload payload;
    private final ByteArrayInputStream client;
    private final SmtpInput input;

    DataReplay(DataPayload payload) throws IOException {
        this.payload = payload;
        this.client = new ByteArrayInputStream(payload.wire);
        this.input = new SmtpInput(client, () -> {});
        MessageBuffer first = new MessageBuffer(LIMIT);
        SmtpInput.DataEnd end = read(first);
        if (end != SmtpInput.DataEnd.COMPLETE
                || !Arrays.equals(first.array(), 0, first.length(), payload.content, 0, payload.content.length))
            throw new IllegalStateException("readData did not return the expected content: " + end
                    + ", " + first.length() + " of " + payload.content.length + " octets");
    }

    /**
     * Reads the whole message into {@code out}. The previous read consumed the stream to its last octet, so
     * SmtpInput's buffer is empty and rewinding the stream starts the next message.
     */
    SmtpInput.DataEnd read(MessageBuffer out) throws IOException {
        client.reset();
        return input.readData(out);
    }

    /** One benchmark operation: the whole message into a new buffer, every result consumed, bytes counted. */
    void readOnce(WireBytes counted, Blackhole bh) throws IOException {
        MessageBuffer content = new MessageBuffer(LIMIT);
        bh.consume(read(content));
        bh.consume(content.array());
        bh.consume(content.length());
        counted.add(payload.wire.length);
    }
}
