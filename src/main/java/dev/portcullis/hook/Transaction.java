package dev.portcullis.hook;

import java.util.List;
import java.util.Map;

/** One mail transaction: from MAIL to the end of DATA (or RSET). */
public interface Transaction {
    /**
     * Set (with the reason as its value) by a data_post plugin to have the message put on hold as soon as the
     * durable spool has stored it: the client still gets its 250, delivery leaves the message alone until an
     * operator releases it. A queue plugin that takes the message over is not bound by it.
     */
    NoteKey<String> HOLD = NoteKey.of("hold", String.class);

    Address sender();
    Map<String, String> mailParameters();
    /** Recipients accepted so far, in order. */
    List<Address> recipients();
    /** The queue id the message will be stored under, known from the start of DATA on. */
    String queueId();
    Notes notes();
    /** Adds a header at the top of the stored message (flag actions, decision traces). */
    void addHeader(String name, String value);

    /**
     * Replaces the value of the first {@code name} field of the message's own header section (what the client
     * sent, not the fields added with {@link #addHeader}), or adds the field at the top of that section when
     * there is none: a subject tag. Applied when the message is stored, after every data_post plugin, in the
     * order asked; the {@link Message} the data_post plugins see is the message as received.
     */
    default void replaceHeader(String name, String value) {
        throw new UnsupportedOperationException("this transaction cannot edit the message");
    }

    /**
     * Removes {@code name} fields from the message's own header section: every one ({@code occurrence} 0),
     * the n-th (n &gt; 0) or the n-th from the end (n &lt; 0). Applied as {@link #replaceHeader} is.
     */
    default void removeHeader(String name, int occurrence) {
        throw new UnsupportedOperationException("this transaction cannot edit the message");
    }
}
