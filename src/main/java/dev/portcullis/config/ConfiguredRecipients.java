package dev.portcullis.config;

import dev.portcullis.accounts.Accounts;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.LocalRecipients;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Local recipients from the [local] section and, when given, the accounts. The same local parts exist in every
 * local domain; local parts compare case-insensitively (RFC 5321 allows case to matter, but no administrator
 * wants Alice and alice to be two people). "postmaster" always exists (RFC 5321 4.5.1): an alias if
 * configured, else a mailbox.
 *
 * An account is a mailbox named like the account, reached by each of its full addresses (only those: unlike a
 * [local] user it does not exist in every local domain). An account address is looked up first, being the more
 * specific; then the local part as a [local] alias or user. Alias targets may name accounts as well as users.
 * Accounts are read at each lookup, so an account added by {@code portcullis user} delivers at once.
 */
public final class ConfiguredRecipients implements LocalRecipients {
    private static final int MAX_ALIAS_DEPTH = 10;
    private final Config.Local local;
    private final Accounts accounts; // null: no accounts

    public ConfiguredRecipients(Config.Local local) { this(local, null); }

    public ConfiguredRecipients(Config.Local local, Accounts accounts) {
        this.local = local;
        this.accounts = accounts;
    }

    @Override public boolean isLocalDomain(String domain) {
        return local.domains().contains(domain.toLowerCase(Locale.ROOT));
    }

    @Override public Optional<List<String>> mailboxesFor(Address address) {
        if (accounts != null && !address.domain().isEmpty()) {
            var owner = accounts.byAddress(address.localPart() + "@" + address.domain());
            if (owner.isPresent()) return Optional.of(List.of(owner.get().name()));
        }
        String name = address.localPart().toLowerCase(Locale.ROOT);
        Set<String> out = new LinkedHashSet<>();
        if (!expand(name, out, 0)) return Optional.empty();
        return Optional.of(List.copyOf(out));
    }

    private boolean expand(String name, Set<String> out, int depth) {
        if (depth > MAX_ALIAS_DEPTH) return false;
        List<String> targets = local.aliases().get(name);
        if (targets != null) {
            boolean any = false;
            for (String t : new ArrayList<>(targets)) any |= expand(t.toLowerCase(Locale.ROOT), out, depth + 1);
            return any;
        }
        if (local.users().contains(name) || name.equals("postmaster")
                || depth > 0 && accounts != null && accounts.find(name).isPresent()) {
            out.add(name);
            return true;
        }
        return false;
    }
}
