package dev.portcullis.outbound;

import dev.portcullis.config.Config;
import dev.portcullis.hook.Address;
import dev.portcullis.outbound.RecipientOutcome.Action;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Logger;
import javax.net.ssl.SSLException;

/*
 * The SMTP side of outbound delivery: open a usable session to a destination, and run one mail
 * transaction on it. No queue, no disk writes: it gets recipients and content and answers with one
 * RecipientOutcome per recipient, which the queue manager makes durable.
 *
 * Opening (RFC 5321 5.1, 3.1): the route's addresses in order; the next one on a connection failure, a
 * greeting other than 220, an EHLO and HELO both refused, a TLS policy not met, or a failed AUTH. EHLO,
 * and HELO when EHLO gets a 5xx (RFC 5321 4.1.1.1 / 3.2). STARTTLS when offered (RFC 3207), then EHLO
 * again; with tls = "opportunistic" a failed handshake is retried once on the same address in plaintext
 * (RFC 7435: opportunistic security never makes delivery worse than cleartext), with "required" it moves
 * on to the next address and, if none does TLS, defers. AUTH (RFC 4954; PLAIN, RFC 4616, preferred over
 * LOGIN) only towards the smarthost and only inside TLS: the password never crosses the wire in clear.
 *
 * Transaction: MAIL FROM with SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531) where
 * offered and meaningful, the RCPTs and DATA — pipelined in one write when PIPELINING is offered (RFC 2920
 * 3.1: MAIL, RCPTs and DATA may be sent together; the replies are then read in order). 2xx delivered, 4xx
 * DELAYED, 5xx FAILED, per recipient. A message that needs SMTPUTF8 is never sent to a server that does
 * not offer it (5.6.7, permanent: we do not downgrade); one over the server's SIZE fails with 5.3.4.
 * Anything that breaks the connection defers every recipient not yet answered (4.4.2).
 */
final class Transfer {
    private static final Logger LOG = Logger.getLogger("portcullis.outbound");

    private final Config.Outbound settings;
    private final Routes routes;
    private final ClientTls tls;

    Transfer(Config.Outbound settings, Routes routes, ClientTls tls) {
        this.settings = settings;
        this.routes = routes;
        this.tls = tls;
    }

    /** A message to send: envelope sender, recipients, and its content (opened once per attempt). */
    record Outgoing(String queueId, Address sender, List<Address> recipients, boolean needsUtf8, boolean eightBit,
                    long size, ContentSource content) {}

    interface ContentSource { InputStream open() throws IOException; }

    sealed interface Opened {}
    record Connected(SmtpClient client) implements Opened {}
    /** No usable session: every recipient gets this outcome. */
    record Unreachable(boolean permanent, String status, String remoteMta, String diagnostic) implements Opened {}

    /** Opens a session ready for MAIL to the destination serving {@code domain}. */
    Opened open(String domain) {
        Routes.Route route = routes.route(domain);
        if (route instanceof Routes.Failure f) return new Unreachable(f.permanent(), f.status(), null, f.diagnostic());
        boolean smarthost = settings.viaSmarthost(domain);
        Unreachable last = new Unreachable(false, "4.4.1", null, "no address to try");
        for (Routes.Target t : ((Routes.Targets) route).targets()) {
            boolean tryTls = true;
            for (int attempt = 0; attempt < 2; attempt++) {
                Object r = attempt(t, smarthost, tryTls);
                if (r instanceof SmtpClient c) return new Connected(c);
                if (r instanceof TlsFailed tf) {
                    last = tf.failure();
                    if (settings.tls().equals("opportunistic")) {
                        LOG.info(() -> "outbound " + t + ": TLS handshake failed, trying again in plaintext (tls = opportunistic): "
                                + tf.failure().diagnostic());
                        tryTls = false;
                        continue;
                    }
                    break;
                }
                last = (Unreachable) r;
                break;
            }
            Unreachable failure = last;
            LOG.fine(() -> "outbound " + t + ": " + failure.diagnostic() + "; next address");
        }
        return last;
    }

    private record TlsFailed(Unreachable failure) {}

    /** A connected, greeted (and possibly TLS'd and authenticated) client, or an Unreachable / TlsFailed. */
    private Object attempt(Routes.Target t, boolean smarthost, boolean tryTls) {
        SmtpClient c;
        try {
            c = SmtpClient.connect(new InetSocketAddress(t.address(), t.port()), t.host(), settings.connectTimeout(),
                    settings.commandTimeout());
        } catch (IOException e) {
            return new Unreachable(false, "4.4.1", null, "connect to " + t + ": " + message(e));
        }
        try {
            Reply greeting = c.greeting();
            if (greeting.code() != 220) return fail(c, "4.4.1", "greeting", greeting); // 554 or 421: try another host
            Reply ehlo = c.ehlo(settings.heloName());
            if (!ehlo.positive()) {
                if (!ehlo.permanentFailure()) return fail(c, "4.4.1", "EHLO", ehlo);
                Reply helo = c.helo(settings.heloName()); // RFC 5321 3.2: an old server
                if (!helo.positive()) return fail(c, "4.4.1", "HELO", helo);
            }
            if (tryTls && c.offers("STARTTLS")) {
                Reply start;
                try {
                    start = c.startTls(tls.factory(), tls.verify(), settings.commandTimeout());
                } catch (SSLException e) {
                    c.close();
                    return new TlsFailed(new Unreachable(false, "4.7.5", c.hostName(),
                            "TLS handshake with " + c.describe() + " failed: " + message(e)));
                }
                if (start.code() != 220) {
                    if (settings.tls().equals("required")) return fail(c, "4.7.10", "STARTTLS", start);
                    // opportunistic: the session goes on in plaintext, as RFC 3207 4.1 allows
                } else {
                    c.timeout(settings.commandTimeout());
                    Reply again = c.ehlo(settings.heloName());
                    if (!again.positive()) return fail(c, "4.4.1", "EHLO after STARTTLS", again);
                }
            }
            if (!c.isTls() && settings.tls().equals("required")) {
                c.quit();
                c.close();
                return new Unreachable(false, "4.7.10", c.hostName(), "" + c.describe()
                        + (tryTls ? " does not offer STARTTLS" : " failed TLS") + " and [outbound] tls = \"required\"");
            }
            if (smarthost && settings.authUser() != null) {
                Unreachable authFailure = authenticate(c);
                if (authFailure != null) return authFailure;
            }
            String how = (c.isEsmtp() ? "ESMTP" : "SMTP") + (c.isTls() ? " " + c.tlsDescription() : " plaintext");
            LOG.fine(() -> "outbound connected to " + c.describe() + " " + how);
            return c;
        } catch (IOException e) {
            c.close();
            String status = e instanceof SmtpClient.ProtocolException ? "4.5.0" : "4.4.2";
            return new Unreachable(false, status, c.hostName(), "session with " + c.describe() + " failed: " + message(e));
        }
    }

    /** RFC 4954 AUTH with PLAIN or LOGIN, inside TLS only; null on success. A refusal is never permanent. */
    private Unreachable authenticate(SmtpClient c) throws IOException {
        if (!c.isTls()) {
            c.quit();
            c.close();
            return new Unreachable(false, "4.7.10", c.hostName(),
                    "not sending AUTH credentials to " + c.describe() + " without TLS");
        }
        String mechanisms = c.parameters("AUTH");
        List<String> offered = mechanisms == null ? List.of()
                : List.of(mechanisms.toUpperCase(Locale.ROOT).split("[ =]+"));
        Base64.Encoder b64 = Base64.getEncoder();
        Reply r;
        if (offered.contains("PLAIN")) {
            byte[] plain = ("\0" + settings.authUser() + "\0" + settings.authPassword()).getBytes(StandardCharsets.UTF_8);
            r = c.command("AUTH PLAIN " + b64.encodeToString(plain));
        } else if (offered.contains("LOGIN")) {
            r = c.command("AUTH LOGIN");
            if (r.code() == 334) r = c.command(b64.encodeToString(settings.authUser().getBytes(StandardCharsets.UTF_8)));
            if (r.code() == 334) r = c.command(b64.encodeToString(settings.authPassword().getBytes(StandardCharsets.UTF_8)));
        } else {
            c.quit();
            c.close();
            return new Unreachable(false, "4.7.0", c.hostName(), "" + c.describe()
                    + " offers no AUTH PLAIN or LOGIN" + (mechanisms == null ? "" : " (only " + oneLine(mechanisms) + ")"));
        }
        if (r.code() == 235) return null;
        if (r.code() == 334) c.command("*"); // a challenge we did not expect: cancel (RFC 4954 4)
        Reply refusal = r;
        c.quit();
        c.close();
        // Wrong credentials are our configuration's fault, not the recipients': defer, never bounce.
        return new Unreachable(false, "4.7.0", c.hostName(), "AUTH refused by " + c.describe() + ": "
                + refusal.oneLine());
    }

    private static Unreachable fail(SmtpClient c, String status, String phase, Reply r) {
        c.quit();
        c.close();
        return new Unreachable(false, r.transientFailure() ? r.status() : status, c.hostName(),
                "smtp; " + r.oneLine() + " (" + phase + " at " + c.describe() + ")");
    }

    /** Every recipient with the outcome of a failed open. */
    static List<RecipientOutcome> all(List<Address> recipients, Unreachable u) {
        List<RecipientOutcome> out = new ArrayList<>();
        for (Address r : recipients)
            out.add(new RecipientOutcome(r, u.permanent() ? Action.FAILED : Action.DELAYED, u.status(), u.remoteMta(), u.diagnostic()));
        return out;
    }

    /** The outcome of one transaction, and whether the session can carry another one (after RSET). */
    record Result(List<RecipientOutcome> outcomes, boolean reusable) {}

    /** Runs one mail transaction on an open session. */
    Result send(SmtpClient c, Outgoing m) {
        String mta = c.hostName();
        Map<Address, RecipientOutcome> outcomes = new LinkedHashMap<>();
        if (m.needsUtf8() && !c.offers("SMTPUTF8"))
            return new Result(allFailed(m.recipients(), "5.6.7", mta, "" + c.describe()
                    + " does not support SMTPUTF8 (RFC 6531), which this message needs"), true);
        String sizeParam = c.parameters("SIZE");
        if (sizeParam != null) {
            long limit = parseSize(sizeParam);
            if (limit > 0 && m.size() > limit)
                return new Result(allFailed(m.recipients(), "5.3.4", mta, "message of " + m.size()
                        + " octets is larger than the " + limit + " that " + c.describe() + " accepts"), true);
        }
        StringBuilder mail = new StringBuilder("MAIL FROM:").append(m.sender().path());
        if (sizeParam != null) mail.append(" SIZE=").append(m.size());
        if (m.eightBit() && c.offers("8BITMIME")) mail.append(" BODY=8BITMIME");
        if (m.needsUtf8()) mail.append(" SMTPUTF8");
        boolean pipelining = c.offers("PIPELINING");
        List<Address> accepted = new ArrayList<>();
        try {
            c.timeout(settings.commandTimeout());
            Reply mailReply;
            List<Reply> rcptReplies = new ArrayList<>();
            Reply dataReply = null;
            if (pipelining) {
                c.send(mail.toString());
                for (Address r : m.recipients()) c.send("RCPT TO:" + r.path());
                c.send("DATA");
                c.flush();
                mailReply = c.read();
                for (int i = 0; i < m.recipients().size(); i++) rcptReplies.add(c.read());
                dataReply = c.read();
            } else {
                mailReply = c.command(mail.toString());
                if (mailReply.positive()) for (Address r : m.recipients()) rcptReplies.add(c.command("RCPT TO:" + r.path()));
            }
            if (!mailReply.positive()) {
                for (Address r : m.recipients()) outcomes.put(r, fromReply(r, mailReply, mta));
                if (pipelining && dataReply.code() == 354) abortData(c); // a server that said 354 anyway
                return new Result(List.copyOf(outcomes.values()), true);
            }
            for (int i = 0; i < m.recipients().size(); i++) {
                Address r = m.recipients().get(i);
                Reply rr = rcptReplies.get(i);
                if (rr.positive()) accepted.add(r);
                else outcomes.put(r, fromReply(r, rr, mta));
            }
            if (accepted.isEmpty()) {
                if (pipelining && dataReply.code() == 354) abortData(c);
                return new Result(List.copyOf(outcomes.values()), true);
            }
            if (!pipelining) dataReply = c.command("DATA");
            if (dataReply.code() != 354) {
                Reply refusal = dataReply;
                for (Address r : accepted)
                    outcomes.put(r, refusal.code() / 100 >= 4 ? fromReply(r, refusal, mta)
                            : new RecipientOutcome(r, Action.DELAYED, "4.5.0", mta, refusal.diagnostic() + " (unexpected reply to DATA)"));
                return new Result(ordered(m, outcomes), refusal.code() / 100 >= 4);
            }
            // RFC 5321 4.5.3.2.5 and .6: the data timeout for each write of the message and for the reply to "."
            c.timeout(settings.dataTimeout());
            try (InputStream content = m.content().open()) {
                c.sendData(content);
            }
            Reply end = c.read();
            for (Address r : accepted) outcomes.put(r, fromReply(r, end, mta));
            return new Result(ordered(m, outcomes), true);
        } catch (IOException | RuntimeException e) {
            c.close();
            String status = e instanceof SmtpClient.ProtocolException ? "4.5.0" : "4.4.2";
            String why = "" + (e instanceof SmtpClient.ProtocolException ? "protocol error from " : "connection to ")
                    + c.describe() + (e instanceof SmtpClient.ProtocolException ? ": " : " lost: ") + message(e);
            for (Address r : m.recipients())
                outcomes.putIfAbsent(r, new RecipientOutcome(r, Action.DELAYED, status, mta, why));
            // A recipient refused with 5xx at RCPT stays refused; everything else is retried.
            return new Result(ordered(m, outcomes), false);
        }
    }

    /** RSET between two transactions on one session (RFC 5321 4.1.1.5). */
    boolean reset(SmtpClient c) {
        try {
            c.timeout(settings.commandTimeout());
            return c.command("RSET").positive();
        } catch (IOException e) {
            return false;
        }
    }

    private static void abortData(SmtpClient c) throws IOException {
        // We have nothing to send: an empty message would be delivered, so end the data at once and let
        // the server decide; its reply is ignored, and the session is reset before any reuse.
        c.send(".");
        c.flush();
        c.read();
    }

    private static List<RecipientOutcome> ordered(Outgoing m, Map<Address, RecipientOutcome> outcomes) {
        List<RecipientOutcome> out = new ArrayList<>();
        for (Address r : m.recipients()) out.add(outcomes.get(r));
        return out;
    }

    private static RecipientOutcome fromReply(Address r, Reply reply, String mta) {
        Action a = reply.positive() ? Action.DELIVERED : reply.permanentFailure() ? Action.FAILED : Action.DELAYED;
        String status = reply.status();
        if (a == Action.DELAYED && !status.startsWith("4")) status = "4.0.0"; // a 3xx where none belongs
        return new RecipientOutcome(r, a, status, mta, reply.diagnostic());
    }

    private static List<RecipientOutcome> allFailed(List<Address> recipients, String status, String mta, String why) {
        List<RecipientOutcome> out = new ArrayList<>();
        for (Address r : recipients) out.add(new RecipientOutcome(r, Action.FAILED, status, mta, why));
        return out;
    }

    private static long parseSize(String param) {
        String p = param.strip();
        if (p.isEmpty() || p.length() > 18 || !p.chars().allMatch(Character::isDigit)) return 0;
        return Long.parseLong(p);
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return oneLine(e.getClass().getSimpleName() + (m == null ? "" : ": " + m));
    }

    private static String oneLine(String s) {
        String clean = s.replaceAll("[\\x00-\\x1f\\x7f]", " ");
        return clean.length() <= 300 ? clean : clean.substring(0, 300) + "...";
    }
}
