package dev.portcullis.smtp;

import dev.portcullis.hook.Message;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
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

    private int headerEnd() { return headerEnd(body, length); }

    private static int headerEnd(byte[] body, int length) {
        if (length >= 2 && body[0] == '\r' && body[1] == '\n') return 0; // no header fields at all
        for (int i = 0; i + 3 < length; i++)
            if (body[i] == '\r' && body[i + 1] == '\n' && body[i + 2] == '\r' && body[i + 3] == '\n') return i + 2;
        return length;
    }

    /** A plugin's edit of the client's header section: replace (value set) or remove (value null) fields. */
    record HeaderEdit(String name, int occurrence, String value) {}

    /**
     * The content with {@code edits} applied to its header section, in order; the body is untouched. A field is
     * its first line and its continuation lines (RFC 5322 2.2.3); lines that are no field are kept as they are.
     * A replaced field is written anew, folded at spaces so that its lines stay short (RFC 5322 2.1.1).
     */
    static byte[] withHeaderEdits(byte[] body, int length, List<HeaderEdit> edits) {
        int end = headerEnd(body, length);
        List<byte[]> fields = new ArrayList<>();
        List<String> names = new ArrayList<>(); // null for a line that is no field
        int start = 0;
        while (start < end) {
            int stop = start;
            do { // to the end of this line, then over every continuation line
                while (stop < end && body[stop] != '\n') stop++;
                if (stop < end) stop++;
            } while (stop < end && (body[stop] == ' ' || body[stop] == '\t'));
            byte[] field = java.util.Arrays.copyOfRange(body, start, stop);
            String line = new String(field, StandardCharsets.UTF_8);
            int colon = line.indexOf(':');
            int lineEnd = line.indexOf('\n');
            fields.add(field);
            names.add(colon > 0 && (lineEnd < 0 || colon < lineEnd) ? line.substring(0, colon).strip() : null);
            start = stop;
        }
        for (HeaderEdit edit : edits) {
            List<Integer> matching = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) if (edit.name().equalsIgnoreCase(names.get(i))) matching.add(i);
            if (edit.value() != null) {
                if (matching.isEmpty()) {
                    fields.addFirst(folded(edit.name(), edit.value()));
                    names.addFirst(edit.name());
                } else {
                    int i = matching.getFirst();
                    fields.set(i, folded(names.get(i), edit.value()));
                }
                continue;
            }
            int n = edit.occurrence();
            List<Integer> gone = n == 0 ? matching
                    : n > 0 ? (n <= matching.size() ? List.of(matching.get(n - 1)) : List.of())
                    : (-n <= matching.size() ? List.of(matching.get(matching.size() + n)) : List.of());
            for (int k = gone.size() - 1; k >= 0; k--) {
                int i = gone.get(k);
                fields.remove(i);
                names.remove(i);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 256);
        for (byte[] f : fields) out.writeBytes(f);
        out.write(body, end, length - end);
        return out.toByteArray();
    }

    /** "Name: value" CRLF, folded before a space wherever a line would pass 78 characters. */
    private static byte[] folded(String name, String value) {
        String text = value.strip();
        if (name.length() + 2 + text.length() <= 78) return (name + ": " + text + "\r\n").getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(name).append(':');
        int lineLength = sb.length();
        for (String word : text.split(" ", -1)) {
            if (!word.isEmpty() && lineLength + 1 + word.length() > 78 && lineLength > name.length() + 1) {
                sb.append("\r\n");
                lineLength = 0;
            }
            sb.append(' ').append(word);
            lineLength += 1 + word.length();
        }
        return sb.append("\r\n").toString().getBytes(StandardCharsets.UTF_8);
    }
}
