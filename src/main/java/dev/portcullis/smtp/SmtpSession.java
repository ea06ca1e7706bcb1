package dev.portcullis.smtp;

import dev.portcullis.hook.Address;
import dev.portcullis.hook.AuthContext;
import dev.portcullis.hook.AuthHook;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.ConnectHook;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DataHook;
import dev.portcullis.hook.DataPostContext;
import dev.portcullis.hook.DataPostHook;
import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.PreConnectHook;
import dev.portcullis.hook.PreMailHook;
import dev.portcullis.hook.DisconnectContext;
import dev.portcullis.hook.DisconnectHook;
import dev.portcullis.hook.HeloContext;
import dev.portcullis.hook.HeloHook;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.MailContext;
import dev.portcullis.hook.MailHook;
import dev.portcullis.hook.QueueContext;
import dev.portcullis.hook.QueueHook;
import dev.portcullis.hook.QuitContext;
import dev.portcullis.hook.QuitHook;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import dev.portcullis.hook.Reply;
import dev.portcullis.hook.ResetContext;
import dev.portcullis.hook.ResetHook;
import dev.portcullis.hook.Transaction;
import dev.portcullis.hook.UnrecognizedCommandContext;
import dev.portcullis.hook.UnrecognizedCommandHook;
import dev.portcullis.hook.VrfyContext;
import dev.portcullis.hook.VrfyHook;
import dev.portcullis.net.Cidr;
import dev.portcullis.net.LazyBufferedOutputStream;
import dev.portcullis.net.LineInput;
import dev.portcullis.queue.Envelope;
import dev.portcullis.queue.QueueIds;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One SMTP conversation (RFC 5321), from greeting to close, on the connection's own virtual thread.
 *
 * The engine sees a {@link Transport}, never a socket. Replies are buffered and flushed only when the
 * next read would block, so pipelined commands (RFC 2920) are answered in order and in one write.
 * Every phase asks the {@link HookChain}; the defaults when all plugins decline are written out in
 * {@code on*} below. Nothing thrown by a plugin or by bad input reaches the client as anything but a
 * reply with an enhanced status code (RFC 3463).
 */
public final class SmtpSession {
    private static final Logger LOG = Logger.getLogger("portcullis.smtp");
    private static final DateTimeFormatter RFC5322_DATE =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);

    /** RFC 5321 4.5.3.1.4: 512 octets with CRLF. */
    private static final int BASE_LINE = 510;
    /** What MAIL parameters we advertise add to that: SIZE (RFC 1870) 26, SMTPUTF8 (RFC 6531) 10, BODY 14. */
    private static final int MAIL_EXTRA = 26 + 10 + 14;
    /** RFC 4954 section 5: the AUTH= parameter of MAIL adds up to 500. */
    private static final int MAIL_AUTH_EXTRA = 500;
    /** RFC 4954 section 4: an AUTH command with its initial response, and each SASL response, up to 12288. */
    private static final int SASL_LINE = 12288;
    private static final int READ_LIMIT = SASL_LINE;

    private final SmtpService service;
    private final Transport transport;
    private final SessionState state;
    private final SmtpInput in;
    private LazyBufferedOutputStream out;
    private TransactionState tx;
    private int errors;
    private boolean closing;
    private String endReason = "quit";

    public SmtpSession(SmtpService service, Transport transport, String role, String id) {
        this.service = service;
        this.transport = transport;
        var remote = transport.remote();
        var local = transport.local();
        this.state = new SessionState(id, remote.getAddress(), remote.getPort(), local.getAddress(), local.getPort(),
                role, service.clock().instant(), Cidr.anyContains(service.relayNetworks(), remote.getAddress()),
                Cidr.anyContains(service.allowNetworks(), remote.getAddress()));
        this.state.tls = transport.isTls();
        this.out = new LazyBufferedOutputStream(transport.output(), 4096);
        this.in = new SmtpInput(transport.input(), new LineInput.BeforeBlock() {
            @Override public void run() throws IOException { flush(); }
            @Override public boolean pending() { return out.hasBuffered(); }
        });
        this.state.talkProbe = this::clientTalksWithin;
    }

    /** For earlytalker: flush, then watch the connection for {@code wait}. A client that hangs up is not a talker. */
    private boolean clientTalksWithin(java.time.Duration wait) {
        if (wait.isZero() || wait.isNegative()) return in.hasBuffered();
        try {
            flush();
            transport.probeTimeout(wait);
            try {
                return in.awaitInput();
            } finally {
                transport.probeTimeout(java.time.Duration.ZERO);
            }
        } catch (IOException e) {
            return true; // gone or broken: treat like a client that did not wait
        }
    }

    /** The decision trace so far (complete once {@link #run} returned). */
    public dev.portcullis.hook.DecisionTrace trace() { return state.trace; }

    public void run() {
        try {
            transport.readTimeout(service.limits().commandTimeout());
            if (greet()) {
                while (!closing) {
                    SmtpInput.Line line = in.readCommandLine(READ_LIMIT);
                    if (line == null) { endReason = "client closed"; break; }
                    command(line);
                }
            }
            flush();
        } catch (SocketTimeoutException e) {
            endReason = "timeout";
            sendQuietly(new Reply(421, "4.4.2", service.hostname() + " Error: timeout exceeded, closing connection"));
        } catch (EOFException e) {
            endReason = "client closed: " + e.getMessage();
        } catch (IOException e) {
            endReason = "i/o error: " + e.getMessage();
        } catch (RuntimeException e) {
            // a bug of ours: the client gets a 421, the log gets the stack trace
            endReason = "internal error";
            LOG.log(Level.SEVERE, "session " + state.id + " failed", e);
            sendQuietly(new Reply(421, "4.3.0", service.hostname() + " Error: internal error, closing connection"));
        } finally {
            if (tx != null) abandonTransaction();
            service.hooks().notify(DisconnectHook.class, "disconnect", h -> h.onDisconnect(new DisconnectContext(state)));
            transport.close();
            LOG.info(() -> "connection session=" + state.id + " client=" + state.remote.getHostAddress() + ":" + state.remotePort
                    + " role=" + state.role + " helo=" + quote(state.helo) + " tls=" + state.tls
                    + (state.authUser == null ? "" : " auth=" + state.authUser) + " messages=" + state.messagesAccepted
                    + " errors=" + errors + " duration_ms=" + (service.clock().millis() - state.connectedAt.toEpochMilli())
                    + " end=" + quote(endReason) + " trace=" + quote(state.trace.toString()));
        }
    }

    /** The connect phase; false when a plugin refused the session. */
    private boolean greet() throws IOException {
        service.hooks().notify(PreConnectHook.class, "pre_connect", h -> h.onPreConnect(new ConnectContext(state)));
        var outcome = service.hooks().run(ConnectHook.class, "connect", state, h -> h.onConnect(new ConnectContext(state)));
        Reply refusal = switch (outcome.result()) {
            case HookResult.Declined d -> null;
            case HookResult.Ok ok -> null;
            case HookResult.Deny deny -> deny.reply();
            case HookResult.DenySoft soft -> soft.reply();
        };
        if (refusal != null) {
            endReason = "refused at connect by " + outcome.plugin();
            send(refusal);
            return false;
        }
        send(new Reply(220, null, service.hostname() + " " + service.limits().banner()));
        return true;
    }

    private void command(SmtpInput.Line line) throws IOException {
        if (line.tooLong()) {
            reply(500, "5.5.2", "Error: line too long");
            return;
        }
        String text = new String(line.bytes(), 0, line.length(), StandardCharsets.ISO_8859_1);
        int space = text.indexOf(' ');
        String verb = (space < 0 ? text : text.substring(0, space)).toUpperCase(Locale.ROOT);
        String args = space < 0 ? "" : text.substring(space + 1);
        int max = switch (verb) {
            case "MAIL" -> BASE_LINE + MAIL_EXTRA + (authOffered() ? MAIL_AUTH_EXTRA : 0);
            case "AUTH" -> SASL_LINE;
            default -> BASE_LINE;
        };
        if (line.length() > max) {
            reply(500, "5.5.2", "Error: line too long");
            return;
        }
        if (text.indexOf('\r') >= 0 || text.indexOf('\0') >= 0) {
            reply(500, "5.5.2", "Error: bad character in command");
            return;
        }
        switch (verb) {
            case "EHLO" -> onHelo(args, true);
            case "HELO" -> onHelo(args, false);
            case "MAIL" -> onMail(utf8(line, space));
            case "RCPT" -> onRcpt(utf8(line, space));
            case "DATA" -> onData(args);
            case "BDAT" -> onBdat(args);
            case "RSET" -> onRset(args);
            case "NOOP" -> reply(250, "2.0.0", "Ok");
            case "QUIT" -> onQuit();
            case "VRFY" -> onVrfy(args);
            case "HELP" -> reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
            case "STARTTLS" -> onStartTls(args);
            case "AUTH" -> onAuth(args);
            case "EXPN" -> reply(502, "5.5.1", "Error: EXPN not available"); // RFC 5321 3.5.2: no list harvesting
            default -> onUnrecognized(verb, args);
        }
    }

    // ---- HELO / EHLO ------------------------------------------------------------------------------

    private void onHelo(String args, boolean extended) throws IOException {
        String name = args.strip();
        if (name.isEmpty()) {
            reply(501, "5.5.4", "Syntax: " + (extended ? "EHLO" : "HELO") + " hostname");
            return;
        }
        if (tx != null) abandonTransaction(); // RFC 5321 4.1.4: EHLO resets the state
        var outcome = service.hooks().run(HeloHook.class, "helo", state, h -> h.onHelo(new HeloContext(state, name, extended)));
        if (refused(outcome)) return;
        state.helo = name;
        state.extended = extended;
        if (!extended) {
            reply(250, null, service.hostname());
            return;
        }
        List<String> lines = new java.util.ArrayList<>(List.of(
                service.hostname() + " Hello " + name + " [" + state.remote.getHostAddress() + "]",
                "PIPELINING",
                "SIZE " + service.limits().maxMessageSize(),
                "8BITMIME",
                "ENHANCEDSTATUSCODES",
                "SMTPUTF8",
                "CHUNKING"));
        if (!state.tls && transport.canStartTls()) lines.add("STARTTLS");
        if (authOffered()) lines.add("AUTH PLAIN LOGIN");
        send(new Reply(250, null, lines));
    }

    // ---- MAIL -------------------------------------------------------------------------------------

    private void onMail(String args) throws IOException {
        if (args == null) { reply(501, "5.5.2", "Error: invalid UTF-8 in command"); return; }
        if (state.helo == null) { reply(503, "5.5.1", "Error: send HELO/EHLO first"); return; }
        if (tx != null) { reply(503, "5.5.1", "Error: nested MAIL command"); return; }
        if (!state.role.equals("mx") && state.authUser == null) { // RFC 6409 4.3: submission needs a login
            reply(530, "5.7.0", "Error: authentication required");
            return;
        }
        if (!args.regionMatches(true, 0, "FROM:", 0, 5)) { reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"); return; }
        PathParser.Parsed parsed;
        try {
            parsed = PathParser.parse(args.substring(5), true);
        } catch (PathParser.PathException e) {
            reply(e.code, e.enhanced, e.getMessage());
            return;
        }
        Map<String, String> params = parsed.parameters();
        if (!params.isEmpty() && !state.extended) { reply(555, "5.5.4", "Error: parameters need EHLO"); return; }
        for (var p : params.entrySet()) {
            switch (p.getKey()) {
                case "SIZE" -> {
                    String v = p.getValue();
                    if (!v.matches("\\d{1,20}")) { reply(501, "5.5.4", "Syntax: SIZE=<number>"); return; } // RFC 1870: digits only
                    long size = v.length() > 18 ? Long.MAX_VALUE : Long.parseLong(v);
                    if (size > service.limits().maxMessageSize()) {
                        reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
                        return;
                    }
                }
                case "BODY" -> {
                    String body = p.getValue().toUpperCase(Locale.ROOT);
                    if (!body.equals("7BIT") && !body.equals("8BITMIME")) { reply(501, "5.5.4", "Syntax: BODY=7BIT or BODY=8BITMIME"); return; }
                }
                case "SMTPUTF8" -> {
                    if (!p.getValue().isEmpty()) { reply(501, "5.5.4", "Syntax: SMTPUTF8 takes no value"); return; }
                }
                case "AUTH" -> { // RFC 4954 5: only where AUTH is offered; the previous hop's claim, we rely on our own AUTH
                    if (!(state.tls && service.hooks().has(AuthHook.class))) {
                        reply(555, "5.5.4", "Error: unsupported MAIL parameter AUTH");
                        return;
                    }
                    if (p.getValue().isEmpty()) { reply(501, "5.5.4", "Syntax: AUTH=<mailbox> or AUTH=<>"); return; }
                }
                default -> {
                    reply(555, "5.5.4", "Error: unsupported MAIL parameter " + p.getKey());
                    return;
                }
            }
        }
        if (!PathParser.isAscii(parsed.address().raw()) && !params.containsKey("SMTPUTF8")) {
            reply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8");
            return;
        }
        TransactionState next = new TransactionState(parsed.address(), params);
        next.traceStart = state.trace.size(); // this transaction's verdicts start with its MAIL hooks
        MailContext mail = new MailContext(state, next, parsed.address(), params);
        service.hooks().notify(PreMailHook.class, "pre_mail", h -> h.onPreMail(mail));
        var outcome = service.hooks().run(MailHook.class, "mail", state, h -> h.onMail(mail));
        if (refused(outcome)) {
            logReject("mail", parsed.address(), null, outcome);
            return;
        }
        tx = next;
        reply(250, "2.1.0", "Ok");
    }

    // ---- RCPT -------------------------------------------------------------------------------------

    private void onRcpt(String args) throws IOException {
        if (args == null) { reply(501, "5.5.2", "Error: invalid UTF-8 in command"); return; }
        if (tx == null) { reply(503, "5.5.1", "Error: need MAIL command"); return; }
        if (!args.regionMatches(true, 0, "TO:", 0, 3)) { reply(501, "5.5.4", "Syntax: RCPT TO:<address>"); return; }
        if (tx.recipients.size() >= service.limits().maxRecipients()) { reply(452, "4.5.3", "Error: too many recipients"); return; }
        PathParser.Parsed parsed;
        try {
            parsed = PathParser.parse(args.substring(3), false);
        } catch (PathParser.PathException e) {
            reply(e.code, e.enhanced, e.getMessage());
            return;
        }
        if (!parsed.parameters().isEmpty()) {
            reply(555, "5.5.4", "Error: unsupported RCPT parameter " + parsed.parameters().keySet().iterator().next());
            return;
        }
        Address rcpt = parsed.postmaster()
                ? new Address("postmaster", service.postmasterDomain(), parsed.address().raw())
                : parsed.address();
        if (!PathParser.isAscii(rcpt.raw()) && !tx.utf8) { reply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8"); return; }
        var deferred = state.notes.get(DeferredRejection.KEY);
        // a refusal deferred from connect/HELO was meant for a stranger; a user who logged in since is not one
        if (deferred.isPresent() && state.authUser == null && !isRoleAccount(rcpt)) {
            DeferredRejection d = deferred.get();
            var outcome = new HookChain.Outcome(d.reply().isTransient() ? new HookResult.DenySoft(d.reply(), d.disconnect())
                    : new HookResult.Deny(d.reply(), d.disconnect()), d.check());
            logReject("rcpt", tx.sender, rcpt, outcome);
            refused(outcome);
            return;
        }
        TransactionState t = tx;
        var outcome = service.hooks().run(RcptHook.class, "rcpt", state,
                h -> h.onRcpt(new RcptContext(state, t, rcpt, parsed.parameters())));
        switch (outcome.result()) {
            case HookResult.Ok ok -> {
                boolean duplicate = tx.recipients.stream().anyMatch(r -> r.mailbox().equals(rcpt.mailbox()));
                if (!duplicate) tx.recipients.add(rcpt); // one envelope entry, one delivery
                reply(250, "2.1.5", duplicate ? "Ok (duplicate recipient)" : "Ok");
            }
            case HookResult.Declined d -> {
                // nobody vouched for this recipient: never relay by default
                state.trace.add("core", "rcpt", "deny", "no plugin accepted " + rcpt.path());
                logReject("rcpt", tx.sender, rcpt, outcome);
                reply(550, "5.7.1", "Error: relay access denied");
            }
            default -> {
                logReject("rcpt", tx.sender, rcpt, outcome);
                refused(outcome);
            }
        }
    }

    /** postmaster@ and abuse@ a local domain: reachable even by clients refused at RCPT (RFC 2505 2.12). */
    private boolean isRoleAccount(Address rcpt) {
        String local = rcpt.localPart().toLowerCase(Locale.ROOT);
        return (local.equals("postmaster") || local.equals("abuse")) && service.local().isLocalDomain(rcpt.domain());
    }

    // ---- DATA and BDAT ----------------------------------------------------------------------------

    private void onData(String args) throws IOException {
        if (!args.isBlank()) { reply(501, "5.5.4", "Syntax: DATA"); return; }
        if (!readyForContent()) return;
        if (tx.chunks != null || tx.chunkFailed) { reply(503, "5.5.1", "Error: DATA not allowed after BDAT"); return; }
        if (!dataHookAccepts(false)) return;
        send(new Reply(354, null, "End data with <CR><LF>.<CR><LF>"));
        flush();
        MessageBuffer content = new MessageBuffer(service.limits().maxMessageSize());
        transport.readTimeout(service.limits().dataTimeout());
        SmtpInput.DataEnd end = in.readData(content);
        transport.readTimeout(service.limits().commandTimeout());
        if (end == SmtpInput.DataEnd.BARE_LINE_ENDING) {
            // Whatever the client meant as the end of data, we cannot know where it is: stop listening.
            endReason = "bare CR or LF in DATA";
            logMessage(null, "554 5.5.2 bare CR or LF", "core");
            abandonTransaction();
            reply(554, "5.5.2", "Error: bare CR or LF in message data (RFC 5321 2.3.8); closing connection");
            closing = true;
            return;
        }
        finishMessage(content, false);
    }

    private void onBdat(String args) throws IOException {
        String[] parts = args.strip().split(" +");
        long size;
        boolean last = parts.length == 2 && parts[1].equalsIgnoreCase("LAST");
        try {
            if (parts.length < 1 || parts.length > 2 || (parts.length == 2 && !last)) throw new NumberFormatException();
            size = Long.parseLong(parts[0]);
            if (size < 0) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            // without a size we cannot find the next command in the stream
            endReason = "bad BDAT syntax";
            reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]; closing connection");
            closing = true;
            return;
        }
        boolean accepting = tx != null && !tx.recipients.isEmpty() && !tx.chunkFailed;
        if (accepting && tx.chunks == null) {
            if (!dataHookAccepts(true)) {
                tx.chunkFailed = true;
                accepting = false;
                in.readChunk(size, new MessageBuffer(0)); // RFC 3030: the chunk is read either way
                return;
            }
            tx.chunks = new MessageBuffer(service.limits().maxMessageSize());
        }
        transport.readTimeout(service.limits().dataTimeout());
        in.readChunk(size, accepting ? tx.chunks : new MessageBuffer(0));
        transport.readTimeout(service.limits().commandTimeout());
        if (!accepting) {
            if (tx != null && tx.chunkFailed) reply(503, "5.5.1", "Error: earlier BDAT failed, send RSET");
            else readyForContent(); // replies with the reason
            return;
        }
        if (!last) {
            reply(250, "2.0.0", size + " octets received");
            return;
        }
        finishMessage(tx.chunks, true);
    }

    /** MAIL and at least one accepted RCPT; replies with the reason when not. */
    private boolean readyForContent() throws IOException {
        if (tx == null) { reply(503, "5.5.1", "Error: need MAIL command"); return false; }
        if (tx.recipients.isEmpty()) { reply(554, "5.5.1", "Error: no valid recipients"); return false; }
        return true;
    }

    private boolean dataHookAccepts(boolean chunked) throws IOException {
        TransactionState t = tx;
        var outcome = service.hooks().run(DataHook.class, "data", state, h -> h.onData(new DataContext(state, t, chunked)));
        if (refused(outcome)) {
            logMessage(null, outcome.result().toString(), outcome.plugin());
            return false;
        }
        tx.queueId = QueueIds.next();
        return true;
    }

    /** Content rules, then data_post, then queue: one reply for the whole message, then a fresh state. */
    private void finishMessage(MessageBuffer content, boolean fromChunks) throws IOException {
        TransactionState t = tx;
        endTransaction();
        t.size = content.total();
        var limits = service.limits();
        if (content.overflowed()) {
            reject(t, 552, "5.3.4", "Error: message size exceeds fixed maximum message size", "core");
            return;
        }
        ContentCheck check = ContentCheck.of(content.array(), content.length());
        if (fromChunks && check.bareLineEnding()) {
            reject(t, 554, "5.6.0", "Error: bare CR or LF in message content", "core");
            return;
        }
        if (check.nul()) { // no SMTP body type allows NUL (RFC 6152 / 3030); some next hops strip it, smuggling again
            reject(t, 554, "5.6.0", "Error: NUL character in message content", "core");
            return;
        }
        if (check.longestLine() > 1000 && !limits.acceptLongLines()) {
            reject(t, 554, "5.6.0", "Error: message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)", "core");
            return;
        }
        if (check.receivedHeaders() > limits.maxReceivedHeaders()) {
            reject(t, 554, "5.4.6", "Error: too many Received headers: mail loop", "core");
            return;
        }
        String received = receivedHeader(t);
        ReceivedMessage message = new ReceivedMessage(received.getBytes(StandardCharsets.UTF_8), content.array(), content.length());

        var post = service.hooks().run(DataPostHook.class, "data_post", state, h -> h.onDataPost(new DataPostContext(state, t, message)));
        if (refused(post)) {
            logMessage(t, post.result().toString(), post.plugin());
            return;
        }
        byte[] prefix = (received + flagHeaders(t) + t.addedHeaders).getBytes(StandardCharsets.UTF_8);
        ReceivedMessage stored = t.headerEdits.isEmpty()
                ? new ReceivedMessage(prefix, content.array(), content.length())
                : edited(prefix, ReceivedMessage.withHeaderEdits(content.array(), content.length(), t.headerEdits));
        var queue = service.hooks().run(QueueHook.class, "queue", state, h -> h.onQueue(new QueueContext(state, t, stored)));
        switch (queue.result()) {
            case HookResult.Ok ok -> {
                state.messagesAccepted++;
                logMessage(t, "250 taken by plugin", queue.plugin());
                reply(250, "2.0.0", "Ok: queued as " + t.queueId);
            }
            case HookResult.Declined d -> spool(t, stored);
            default -> {
                logMessage(t, queue.result().toString(), queue.plugin());
                refused(queue);
            }
        }
    }

    private static ReceivedMessage edited(byte[] prefix, byte[] body) { return new ReceivedMessage(prefix, body, body.length); }

    /**
     * The safe default of the queue phase: 250 only once the message is on disk. A message a plugin asked to
     * hold ({@link Transaction#HOLD}) is held before the 250 and never handed to delivery;
     * when the hold cannot be recorded the message is taken back out and the client told to try again.
     */
    private void spool(TransactionState t, ReceivedMessage message) throws IOException {
        Envelope envelope = new Envelope(t.queueId, t.sender, t.recipients, service.clock().instant(),
                state.remote.getHostAddress(), state.helo, state.authUser, t.parameters);
        String hold = t.notes.get(Transaction.HOLD).orElse(null);
        try {
            service.spool().store(envelope, List.of(ByteBuffer.wrap(message.prefix()),
                    ByteBuffer.wrap(message.body(), 0, message.bodyLength())));
        } catch (IOException e) {
            LOG.log(Level.SEVERE, "spool failed for " + t.queueId + " session=" + state.id, e);
            logMessage(t, "451 spool failure", "core");
            reply(451, "4.3.0", "Error: local error in processing, message not accepted");
            return;
        }
        if (hold != null) {
            try {
                service.spool().hold(t.queueId, hold);
            } catch (IOException e) {
                LOG.log(Level.SEVERE, "hold failed for " + t.queueId + " session=" + state.id, e);
                try {
                    service.spool().remove(t.queueId);
                } catch (IOException again) {
                    LOG.log(Level.SEVERE, "could not take back " + t.queueId + " after a failed hold: it will be delivered", again);
                }
                logMessage(t, "451 hold failure", "core");
                reply(451, "4.3.0", "Error: local error in processing, message not accepted");
                return;
            }
        }
        state.messagesAccepted++;
        logMessage(t, hold == null ? "250 queued" : "250 queued and held: " + hold, "core");
        reply(250, "2.0.0", "Ok: queued as " + t.queueId);
        if (hold == null) service.queued().accept(t.queueId);
    }

    private void reject(TransactionState t, int code, String enhanced, String text, String by) throws IOException {
        logMessage(t, code + " " + enhanced + " " + text, by);
        reply(code, enhanced, text);
    }

    /**
     * X-Portcullis-Flag for each check that flagged this message (the session's connect and HELO verdicts and
     * this transaction's), and the whole decision trace with its score when there is any flag.
     */
    private String flagHeaders(TransactionState t) {
        List<DecisionTrace.Entry> mine = state.trace.forTransaction(t.traceStart);
        StringBuilder sb = new StringBuilder();
        for (DecisionTrace.Entry e : mine) {
            if (e.result().equals("flag"))
                sb.append("X-Portcullis-Flag: ").append(e.plugin()).append(" (").append(e.phase()).append("): ")
                        .append(oneLine(e.reason())).append("\r\n");
        }
        if (!sb.isEmpty()) {
            sb.append("X-Portcullis-Score: ").append(mine.stream().mapToDouble(DecisionTrace.Entry::score).sum()).append("\r\n");
            sb.append(folded("X-Portcullis-Trace", mine.stream().limit(50).map(e -> oneLine(e.toString())).toList()));
        }
        return sb.toString();
    }

    /** A header field folded between items (RFC 5322 2.2.3) so that no line passes 78 characters if it can help it. */
    private static String folded(String name, List<String> items) {
        StringBuilder sb = new StringBuilder(name).append(':');
        int lineLength = sb.length();
        for (int i = 0; i < items.size(); i++) {
            String item = (i == 0 ? "" : "") + items.get(i) + (i < items.size() - 1 ? ";" : "");
            if (item.length() > 900) item = item.substring(0, 900) + "...";
            if (lineLength + 1 + item.length() > 78 && lineLength > name.length() + 1) {
                sb.append("\r\n\t");
                lineLength = 1;
            } else {
                sb.append(' ');
                lineLength++;
            }
            sb.append(item);
            lineLength += item.length();
        }
        return sb.append("\r\n").toString();
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n\\t]+", " ");
    }

    /** RFC 5321 4.4 trace field, with the RFC 3848 / RFC 6531 protocol names. */
    private String receivedHeader(TransactionState t) {
        String with = (t.utf8 ? "UTF8SMTP" : state.extended ? "ESMTP" : "SMTP")
                + (state.tls ? "S" : "") + (state.authUser != null ? "A" : "");
        String ip = state.remote.getHostAddress();
        String literal = state.remote instanceof java.net.Inet6Address ? "[IPv6:" + ip + "]" : "[" + ip + "]";
        StringBuilder sb = new StringBuilder(200);
        sb.append("Received: from ").append(sanitize(state.helo)).append(" (").append(literal).append(")\r\n");
        if (state.authUser != null) sb.append("\t(authenticated as ").append(sanitize(state.authUser)).append(")\r\n");
        sb.append("\tby ").append(service.hostname()).append(" (Portcullis) with ").append(with)
                .append(" id ").append(t.queueId).append("\r\n");
        if (t.recipients.size() == 1) sb.append("\tfor ").append(sanitize(t.recipients.getFirst().path())).append(";\r\n");
        else sb.append("\t;\r\n");
        sb.append("\t").append(ZonedDateTime.now(service.clock()).format(RFC5322_DATE)).append("\r\n");
        return sb.toString();
    }

    // ---- the rest ---------------------------------------------------------------------------------

    private void onRset(String args) throws IOException {
        if (!args.isBlank()) { reply(501, "5.5.4", "Syntax: RSET"); return; }
        if (tx != null) abandonTransaction();
        reply(250, "2.0.0", "Ok");
    }

    private void onQuit() throws IOException {
        var outcome = service.hooks().run(QuitHook.class, "quit", state, h -> h.onQuit(new QuitContext(state)));
        closing = true;
        endReason = "quit";
        if (outcome.result() instanceof HookResult.Deny d) send(d.reply());
        else send(new Reply(221, "2.0.0", "Bye"));
    }

    private void onVrfy(String args) throws IOException {
        if (args.isBlank()) { reply(501, "5.5.4", "Syntax: VRFY address"); return; }
        var outcome = service.hooks().run(VrfyHook.class, "vrfy", state, h -> h.onVrfy(new VrfyContext(state, args.strip())));
        switch (outcome.result()) {
            case HookResult.Ok ok -> reply(250, "2.1.5", ok.note() == null ? args.strip() : ok.note());
            case HookResult.Declined d -> reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
            default -> refused(outcome);
        }
    }

    private void onStartTls(String args) throws IOException {
        if (!args.isBlank()) { reply(501, "5.5.4", "Syntax: STARTTLS"); return; }
        if (state.tls) { reply(503, "5.5.1", "Error: TLS already active"); return; }
        if (!transport.canStartTls()) { reply(454, "4.7.0", "Error: TLS not available"); return; }
        send(new Reply(220, "2.0.0", "Ready to start TLS"));
        flush();
        // RFC 3207 4.2: anything the client sent after STARTTLS was not protected; forget it
        in.discardBuffered();
        try {
            transport.startTls();
        } catch (IOException e) {
            endReason = "TLS handshake failed: " + e.getMessage();
            closing = true;
            return;
        }
        in.switchTo(transport.input());
        out = new LazyBufferedOutputStream(transport.output(), 4096);
        if (tx != null) abandonTransaction();
        state.tls = true;
        state.helo = null; // RFC 3207 4.2: the client must say EHLO again
        state.extended = false;
    }

    /** AUTH is offered only over TLS, and only when some plugin checks credentials. */
    private boolean authOffered() {
        return state.tls && state.authUser == null && service.hooks().has(AuthHook.class);
    }

    /**
     * SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN. The engine does the SASL exchange; whether the
     * credentials are good is the auth hook's decision. Never before TLS: a password is never sent in clear.
     */
    private void onAuth(String args) throws IOException {
        if (!state.extended) { reply(503, "5.5.1", "Error: send EHLO first"); return; }
        if (state.authUser != null) { reply(503, "5.5.1", "Error: already authenticated"); return; }
        if (tx != null) { reply(503, "5.5.1", "Error: AUTH not allowed during a mail transaction"); return; }
        if (!state.tls) { reply(538, "5.7.11", "Error: encryption required for authentication (use STARTTLS)"); return; }
        if (!service.hooks().has(AuthHook.class)) { reply(502, "5.5.1", "Error: authentication not available"); return; }
        String[] parts = args.strip().split(" +", 2);
        String mechanism = parts[0].toUpperCase(Locale.ROOT);
        String initial = parts.length > 1 ? parts[1] : null;
        String username;
        String password;
        switch (mechanism) {
            case "PLAIN" -> {
                byte[] response = saslResponse(initial == null ? challenge("") : initial);
                if (response == null) return;
                String[] fields = new String(response, StandardCharsets.UTF_8).split("\0", -1);
                if (fields.length != 3 || fields[1].isEmpty()) { reply(501, "5.5.2", "Error: malformed PLAIN response"); return; }
                if (!fields[0].isEmpty() && !fields[0].equals(fields[1])) { // no acting as somebody else
                    reply(535, "5.7.8", "Error: authentication credentials invalid");
                    return;
                }
                username = fields[1];
                password = fields[2];
            }
            case "LOGIN" -> {
                byte[] user = saslResponse(initial == null ? challenge("VXNlcm5hbWU6") : initial); // "Username:"
                if (user == null) return;
                byte[] pass = saslResponse(challenge("UGFzc3dvcmQ6")); // "Password:"
                if (pass == null) return;
                username = new String(user, StandardCharsets.UTF_8);
                password = new String(pass, StandardCharsets.UTF_8);
            }
            default -> {
                reply(504, "5.5.4", "Error: unsupported authentication mechanism");
                return;
            }
        }
        String user = username;
        var outcome = service.hooks().run(AuthHook.class, "auth", state,
                h -> h.onAuth(new AuthContext(state, mechanism, user, password)));
        switch (outcome.result()) {
            case HookResult.Ok ok -> {
                state.authUser = username;
                LOG.info(() -> "auth session=" + state.id + " client=" + state.remote.getHostAddress() + " user=" + quote(user)
                        + " mechanism=" + mechanism + " result=ok");
                reply(235, "2.7.0", "Authentication successful");
            }
            case HookResult.Declined d -> {
                logAuthFailure(user, mechanism, "no plugin accepted the credentials");
                reply(535, "5.7.8", "Error: authentication credentials invalid");
            }
            default -> {
                logAuthFailure(user, mechanism, outcome.result().toString());
                refused(outcome);
            }
        }
    }

    private void logAuthFailure(String user, String mechanism, String why) {
        LOG.info(() -> "auth session=" + state.id + " client=" + state.remote.getHostAddress() + " user=" + quote(user)
                + " mechanism=" + mechanism + " result=fail reason=" + quote(why));
    }

    /** Sends a 334 challenge and reads the client's answer; null (after replying) when it is too long. */
    private String challenge(String base64) throws IOException {
        send(new Reply(334, null, base64));
        SmtpInput.Line line = in.readCommandLine(SASL_LINE);
        if (line == null) throw new EOFException("client closed during AUTH");
        if (line.tooLong()) { reply(500, "5.5.6", "Error: authentication exchange line too long"); return null; }
        return new String(line.bytes(), 0, line.length(), StandardCharsets.US_ASCII);
    }

    /** Decodes a SASL response; null after replying when it was "*" (cancel) or not base64 (RFC 4954 4). */
    private byte[] saslResponse(String text) throws IOException {
        if (text == null) return null; // already answered
        if (text.equals("*")) { reply(501, "5.7.0", "Authentication cancelled"); return null; }
        if (text.equals("=")) return new byte[0]; // an empty initial response
        try {
            return java.util.Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            reply(501, "5.5.2", "Error: invalid base64 in authentication response");
            return null;
        }
    }

    private void onUnrecognized(String verb, String args) throws IOException {
        var outcome = service.hooks().run(UnrecognizedCommandHook.class, "unrecognized", state,
                h -> h.onUnrecognizedCommand(new UnrecognizedCommandContext(state, verb, args)));
        switch (outcome.result()) {
            case HookResult.Ok ok -> reply(250, "2.0.0", ok.note() == null ? "Ok" : ok.note());
            case HookResult.Declined d -> reply(500, "5.5.1", "Error: command not recognized");
            default -> refused(outcome);
        }
    }

    private void abandonTransaction() {
        TransactionState t = tx;
        endTransaction();
        service.hooks().notify(ResetHook.class, "reset", h -> h.onReset(new ResetContext(state, t)));
    }

    /** Whatever way a transaction ends, what was decided about it alone goes with it. */
    private void endTransaction() {
        tx = null;
        state.notes.get(DeferredRejection.KEY).filter(d -> d.phase().equals("mail"))
                .ifPresent(d -> state.notes.remove(DeferredRejection.KEY));
    }

    /** Sends the reply of a Deny or DenySoft; false (and nothing sent) for Ok and Declined. */
    private boolean refused(HookChain.Outcome outcome) throws IOException {
        switch (outcome.result()) {
            case HookResult.Deny d -> {
                send(d.reply());
                if (d.disconnect()) { closing = true; endReason = "disconnected by " + outcome.plugin(); }
                return true;
            }
            case HookResult.DenySoft d -> {
                send(d.reply());
                if (d.disconnect()) { closing = true; endReason = "disconnected by " + outcome.plugin(); }
                return true;
            }
            case HookResult.Ok ok -> { return false; }
            case HookResult.Declined d -> { return false; }
        }
    }

    private void reply(int code, String enhanced, String text) throws IOException {
        send(new Reply(code, enhanced, text));
    }

    /** Queues a reply; counts errors, and ends a session that has made too many. */
    private void send(Reply reply) throws IOException {
        out.write(reply.wire().getBytes(StandardCharsets.UTF_8));
        if (reply.code() >= 400 && reply.code() != 421 && !closing) {
            errors++;
            if (errors >= service.limits().maxErrors()) {
                closing = true;
                endReason = "too many errors";
                out.write(new Reply(421, "4.7.0", service.hostname() + " Error: too many errors, closing connection").wire()
                        .getBytes(StandardCharsets.UTF_8));
            }
        }
        if (reply.code() == 421) closing = true;
    }

    private void sendQuietly(Reply reply) {
        try {
            out.write(reply.wire().getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException | RuntimeException ignored) {
            // the connection is going away anyway
        }
    }

    private void flush() throws IOException { out.flush(); }

    /** The command's arguments decoded as UTF-8 (RFC 6531), or null when they are not valid UTF-8. */
    private static String utf8(SmtpInput.Line line, int space) {
        if (space < 0) return "";
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(line.bytes(), space + 1, line.length() - space - 1)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private void logReject(String phase, Address from, Address to, HookChain.Outcome outcome) {
        LOG.info(() -> "reject session=" + state.id + " phase=" + phase + " client=" + state.remote.getHostAddress()
                + " helo=" + quote(state.helo) + " from=" + from + (to == null ? "" : " to=" + to)
                + " result=" + quote(outcome.result().toString()) + " decided_by=" + (outcome.plugin() == null ? "core" : outcome.plugin()));
    }

    private void logMessage(TransactionState t, String result, String by) {
        TransactionState x = t != null ? t : tx;
        LOG.info(() -> "message session=" + state.id + " client=" + state.remote.getHostAddress() + " helo=" + quote(state.helo)
                + (x == null ? "" : " queue_id=" + x.queueId + " from=" + x.sender + " to=" + x.recipients
                + " size=" + x.size)
                + " result=" + quote(result) + " decided_by=" + (by == null ? "core" : by)
                + " trace=" + quote(x == null ? state.trace.toString() : state.trace.describeTransaction(x.traceStart)));
    }

    private static String sanitize(String s) {
        if (s == null) return "unknown";
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length() && i < 255; i++) {
            char c = s.charAt(i);
            sb.append(c > ' ' && c < 127 && c != '(' && c != ')' && c != ';' ? c : '_');
        }
        return sb.toString();
    }

    private static String quote(String s) { return s == null ? "-" : "\"" + s.replace("\"", "'") + "\""; }
}
