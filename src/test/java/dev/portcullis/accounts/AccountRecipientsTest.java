package dev.portcullis.accounts;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfiguredRecipients;
import dev.portcullis.hook.Address;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Accounts are mailboxes: RCPT validation and local delivery find them through ConfiguredRecipients. */
class AccountRecipientsTest {
    static final Config.Local LOCAL = new Config.Local(List.of("example.test", "example.org"), List.of("carol"),
            Map.of("sales", List.of("dave", "carol"), "team", List.of("sales"), "ghost", List.of("nobody")));

    @TempDir Path dir;
    SqliteAccounts accounts;
    ConfiguredRecipients recipients;

    @BeforeEach void open() {
        accounts = new SqliteAccounts(dir.resolve(SqliteAccounts.FILE), LOCAL.domains());
        recipients = new ConfiguredRecipients(LOCAL, accounts);
    }

    @AfterEach void close() { accounts.close(); }

    Optional<List<String>> to(String local, String domain) {
        return recipients.mailboxesFor(Address.of(local, domain));
    }

    @Test void anAccountAddressDeliversToTheAccountsMailbox() {
        assertEquals(Optional.empty(), to("alice", "example.test"));
        accounts.add("alice", "pw".toCharArray(), List.of("alice@example.test", "a.smith@example.org"));
        assertEquals(Optional.of(List.of("alice")), to("alice", "example.test"), "seen at once, no restart");
        assertEquals(Optional.of(List.of("alice")), to("A.Smith", "Example.ORG"));
        assertEquals(Optional.empty(), to("alice", "example.org"), "an account is its addresses, not a name in every domain");
        accounts.delete("alice");
        assertEquals(Optional.empty(), to("alice", "example.test"));
    }

    @Test void anAccountAddressMayLeadToAMailboxOfAnotherName() {
        accounts.add("alice", "pw".toCharArray(), List.of("postmaster@example.org", "sales@example.org"));
        assertEquals(Optional.of(List.of("alice")), to("postmaster", "example.org"));
        assertEquals(Optional.of(List.of("alice")), to("sales", "example.org"), "the full address is more specific than the alias");
        assertEquals(Optional.of(List.of("carol")), to("sales", "example.test"), "the alias still works elsewhere");
        assertEquals(Optional.of(List.of("postmaster")), to("postmaster", "example.test"));
    }

    @Test void configAliasesMayTargetAccounts() {
        assertEquals(Optional.of(List.of("carol")), to("team", "example.test"), "dave does not exist yet");
        accounts.add("dave", "pw".toCharArray(), List.of());
        assertEquals(Optional.of(List.of("dave", "carol")), to("sales", "example.test"));
        assertEquals(Optional.of(List.of("dave", "carol")), to("team", "example.org"));
        assertEquals(Optional.empty(), to("ghost", "example.test"));
    }

    @Test void configUsersStillWorkAndTheOldConstructorKnowsNoAccounts() {
        accounts.add("dave", "pw".toCharArray(), List.of("dave@example.test"));
        assertEquals(Optional.of(List.of("carol")), to("carol", "example.org"));
        ConfiguredRecipients configOnly = new ConfiguredRecipients(LOCAL);
        assertEquals(Optional.empty(), configOnly.mailboxesFor(Address.of("dave", "example.test")));
        assertEquals(Optional.of(List.of("carol")), configOnly.mailboxesFor(Address.of("sales", "example.test")));
    }
}
