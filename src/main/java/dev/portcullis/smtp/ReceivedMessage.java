package dev.portcullis.smtp;

import dev.portcullis.hook.Message;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The message handed to data_post and queue plugins: the trace headers, then the content as received. */
final class ReceivedMessage implements Message {
    private final byte[] prefix;
    private final byte[] body;
    private final int length;
    private List<Header> headers;

    ReceivedMessage(byte[] prefix, byte[] body, int length) {
        this.prefix = prefix;
        this.body = body;
        this.length = length;
    }

    byte[] prefix() { return prefix; }
    byte[] body() { return body; }
    int bodyLength() { return length; }

    @Override public long size() { return prefix.length + (long) length; }

    @Override public InputStream open() {
        return new SequenceInputStream(new ByteArrayInputStream(prefix), new ByteArrayInputStream(body, 0, length));
    }

    /** Header fields unfolded (RFC 5322 2.2.3); parsed on first use, since most sessions never ask. */
    @Override public List<Header> headers() {
        if (headers == null) {
            List<Header> out = new ArrayList<>();
            String text = new String(prefix, StandardCharsets.UTF_8) + new String(body, 0, headerEnd(), StandardCharsets.UTF_8);
            String name = null;
            StringBuilder value = new StringBuilder();
            for (String line : text.split("\r\n")) {
                if (line.isEmpty()) break;
                if ((line.charAt(0) == ' ' || line.charAt(0) == '\t') && name != null) {
                    value.append(line);
                    continue;
                }
                if (name != null) out.add(new Header(name, value.toString().strip()));
                int colon = line.indexOf(':');
                if (colon <= 0) { name = null; continue; }
                name = line.substring(0, colon).strip();
                value.setLength(0);
                value.append(line, colon + 1, line.length());
            }
            if (name != null) out.add(new Header(name, value.toString().strip()));
            headers = List.copyOf(out);
        }
        return headers;
    }

    private int headerEnd() {
        for (int i = 0; i + 3 < length; i++)
            if (body[i] == '\r' && body[i + 1] == '\n' && body[i + 2] == '\r' && body[i + 3] == '\n') return i + 2;
        return length;
    }
}
