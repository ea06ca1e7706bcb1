package dev.portcullis.hook;

import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/** The message as received, after DATA or the last BDAT chunk: CRLF lines, dots unstuffed. */
public interface Message {
    long size();
    InputStream open();
    /** The header fields of the message, unfolded, in order. */
    List<Header> headers();

    default Optional<String> header(String name) {
        return headers().stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value).findFirst();
    }

    record Header(String name, String value) {}
}
