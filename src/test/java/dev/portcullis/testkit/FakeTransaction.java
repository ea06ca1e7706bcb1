package dev.portcullis.testkit;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Transaction;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A {@link Transaction} for unit tests of one plugin's decisions, the companion of {@link FakeSession}: a fixed
 * sender, the recipients and queue id a test gives it, real notes, and the headers plugins add, kept as
 * {@code "Name: value"} lines for assertions.
 */
public final class FakeTransaction implements Transaction {
    public final Notes notes = new Notes();
    public final List<Address> recipients = new ArrayList<>();
    public final List<String> headers = new ArrayList<>();
    public String queueId;
    private final Address sender;

    public FakeTransaction(Address sender) { this.sender = sender; }

    /** @param sender "local@domain", or "" for the null sender */
    public FakeTransaction(String sender) { this(address(sender)); }

    /** "local@domain" as an {@link Address} (split at the last @); "" is the null sender. */
    public static Address address(String mailbox) {
        if (mailbox.isEmpty()) return Address.NULL_SENDER;
        int at = mailbox.lastIndexOf('@');
        return Address.of(mailbox.substring(0, at), mailbox.substring(at + 1));
    }

    /** Adds recipients ("local@domain"), as accepted RCPTs would. */
    public FakeTransaction to(String... mailboxes) {
        for (String m : mailboxes) recipients.add(address(m));
        return this;
    }

    @Override public Address sender() { return sender; }
    @Override public Map<String, String> mailParameters() { return Map.of(); }
    @Override public List<Address> recipients() { return recipients; }
    @Override public String queueId() { return queueId; }
    @Override public Notes notes() { return notes; }
    @Override public void addHeader(String name, String value) { headers.add(name + ": " + value); }
}
