package dev.portcullis.smtp;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Transaction;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The engine's mutable view of one mail transaction. */
final class TransactionState implements Transaction {
    // compiled once: String.replaceAll and String.matches compile their pattern on every call
    private static final java.util.regex.Pattern LINE_BREAKS = java.util.regex.Pattern.compile("[\r\n]+");
    private static final java.util.regex.Pattern FIELD_NAME = java.util.regex.Pattern.compile("[!-9;-~]+");
    final Address sender;
    final Map<String, String> parameters;
    final boolean utf8;
    final List<Address> recipients = new ArrayList<>();
    final Notes notes = new Notes();
    final StringBuilder addedHeaders = new StringBuilder();
    /** Edits of the client's own header section, applied in this order when the message is stored. */
    final List<ReceivedMessage.HeaderEdit> headerEdits = new ArrayList<>();
    String queueId;
    /** Trace entries from this index on belong to this transaction. */
    int traceStart;
    /** Octets received for the message (-1 before content). */
    long size = -1;
    /** BDAT chunks received so far (null: no BDAT yet). */
    MessageBuffer chunks;
    boolean chunkFailed;

    TransactionState(Address sender, Map<String, String> parameters) {
        this.sender = sender;
        this.parameters = Map.copyOf(parameters);
        this.utf8 = parameters.containsKey("SMTPUTF8");
    }

    @Override public Address sender() { return sender; }
    @Override public Map<String, String> mailParameters() { return parameters; }
    @Override public List<Address> recipients() { return List.copyOf(recipients); }
    @Override public String queueId() { return queueId; }
    @Override public Notes notes() { return notes; }

    @Override public void addHeader(String name, String value) {
        checkName(name);
        // fold nothing, inject nothing: one physical line per added field
        addedHeaders.append(name).append(": ").append(LINE_BREAKS.matcher(value).replaceAll(" ")).append("\r\n");
    }

    @Override public void replaceHeader(String name, String value) {
        checkName(name);
        headerEdits.add(new ReceivedMessage.HeaderEdit(name, 0, LINE_BREAKS.matcher(value).replaceAll(" ")));
    }

    @Override public void removeHeader(String name, int occurrence) {
        checkName(name);
        headerEdits.add(new ReceivedMessage.HeaderEdit(name, occurrence, null));
    }

    private static void checkName(String name) {
        if (!FIELD_NAME.matcher(name).matches()) throw new IllegalArgumentException("not a header field name: " + name);
    }
}
