package dev.portcullis.smtp;

import dev.portcullis.config.Config;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.net.Cidr;
import dev.portcullis.queue.Spool;
import java.time.Clock;
import java.util.List;
import java.util.function.Consumer;

/** What every session shares: limits, the hook chain, the spool and where to announce a queued message. */
public record SmtpService(
        String hostname,
        Config.Smtp limits,
        HookChain hooks,
        Spool spool,
        /** told the queue id of each message once it is on disk */
        Consumer<String> queued,
        Clock clock,
        List<Cidr> relayNetworks,
        List<Cidr> allowNetworks,
        LocalRecipients local,
        /** the domain for RCPT TO:<Postmaster> without a domain */
        String postmasterDomain) {}
