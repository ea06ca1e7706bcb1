package dev.portcullis.delivery;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.LocalRecipients;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** example.test with mailboxes alice and bob, the alias team (both) and postmaster (alice). */
final class TestRecipients implements LocalRecipients {

    private static final Map<String, List<String>> ADDRESSES = Map.of(
            "alice", List.of("alice"),
            "bob", List.of("bob"),
            "team", List.of("alice", "bob"),
            "postmaster", List.of("alice"));

    @Override
    public boolean isLocalDomain(String domain) {
        return domain.equals("example.test");
    }

    @Override
    public Optional<List<String>> mailboxesFor(Address address) {
        return Optional.ofNullable(ADDRESSES.get(address.localPart().toLowerCase(Locale.ROOT)));
    }
}
