package dev.portcullis.hook;

import java.util.List;
import java.util.Map;

/** One mail transaction: from MAIL to the end of DATA (or RSET). */
public interface Transaction {
    Address sender();
    Map<String, String> mailParameters();
    /** Recipients accepted so far, in order. */
    List<Address> recipients();
    /** The queue id the message will be stored under, known from the start of DATA on. */
    String queueId();
    Notes notes();
    /** Adds a header at the top of the stored message (flag actions, decision traces). */
    void addHeader(String name, String value);
}
