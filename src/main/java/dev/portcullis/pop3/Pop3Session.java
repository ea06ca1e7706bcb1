package dev.portcullis.pop3;

import dev.portcullis.accounts.LoginGuard;
import dev.portcullis.config.Config;
import dev.portcullis.net.LazyBufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.logging.Level;
import java.util.logging.Logger;

/*
 * One POP3 conversation (RFC 1939), fed with lines from a Connection and answering on it; the listener only
 * moves bytes, so the whole protocol can be driven from memory in tests.
 *
 * States (RFC 1939 section 3): AUTHORIZATION until a login succeeds and the mailbox is locked, TRANSACTION
 * until QUIT, then UPDATE (Maildrop.update) and the end. Any other end — the client vanishing, a timeout, too
 * many bad commands, a shutdown — skips UPDATE: nothing is deleted and no flag changes.
 *
 * Invariants:
 * - A password is never accepted in clear unless [pop3] plaintext allows it for this client (RFC 2595
 *   section 2.1; the default lets only loopback clients do so). Before TLS, USER and SASL are then not
 *   advertised in CAPA and USER, PASS and AUTH are refused with [AUTH].
 * - STLS (RFC 2595 section 4) forgets every byte the client sent after the command and any USER given before
 *   it: nothing that came in clear is acted on as if it came through TLS.
 * - Every login goes through the shared LoginGuard: same delay, same counts, same lockouts as SMTP AUTH.
 *   A client locked out is told [AUTH] and disconnected; a wrong password gets [AUTH] after the guard's delay
 *   and the session stays in AUTHORIZATION (RFC 1939 section 7).
 * - One session per mailbox ([IN-USE], RFC 2449 section 8.1.2), held from login to the end of UPDATE.
 * - Error replies carry the RFC 2449 / RFC 3206 response codes where one applies: [AUTH] for credentials and
 *   plaintext refusals, [IN-USE], [SYS/TEMP] for what may pass (I/O), [SYS/PERM] for what needs the admin.
 * - Bad input gets -ERR, never a stack trace: an unexpected exception is logged and the client told
 *   [SYS/TEMP]. Commands are at most 255 octets with CRLF (RFC 2449 section 4); ten bad commands end the
 *   session, so a client that speaks another protocol is not kept forever.
 */
final class Pop3Session {
    private static final Logger LOG = Logger.getLogger("portcullis.pop3");

    /** RFC 2449 section 4: 255 octets including the CRLF. */
    static final int MAX_COMMAND = 253;
    /** RFC 5034 section 4 puts no limit on a SASL response line; a PLAIN response is short, so this is generous. */
    static final int MAX_SASL_RESPONSE = 8192;
    /** Unknown commands, commands in the wrong state and overlong lines before the session is closed. */
    static final int MAX_BAD_COMMANDS = 10;
    /** A TLS handshake takes milliseconds; one that stalls gets this long, not the whole inactivity timeout. */
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(60);

    private enum State { AUTHORIZATION, TRANSACTION }

    private final Pop3Service service;
    private final Connection conn;
    private final String id;
    private final InetAddress remote;
    private LineReader in;
    private OutputStream out;
    private State state = State.AUTHORIZATION;
    /** The name given by USER, waiting for PASS. */
    private String user;
    private String account;
    private MailboxLocks.Lease lease;
    private Maildrop drop;
    private boolean closing;
    private int badCommands;
    private String endReason = "client closed the connection";

    Pop3Session(Pop3Service service, Connection conn, String id) {
        this.service = service;
        this.conn = conn;
        this.id = id;
        this.remote = conn.remoteAddress();
    }

    /** Runs the session to its end and closes the connection. Never throws. */
    void run() {
        LOG.fine(() -> "pop3 session=" + id + " connect client=" + remote.getHostAddress() + (conn.isTls() ? " tls" : ""));
        try {
            conn.readTimeout(service.settings().timeout());
            in = new LineReader(conn.input(), this::flush);
            out = new LazyBufferedOutputStream(conn.output(), 8192);
            ok(service.hostname() + " POP3 server ready");
            while (!closing) {
                LineReader.Line line = in.readLine(MAX_COMMAND);
                if (line == null) break;
                if (line.tooLong()) bad("line too long: commands are at most 255 octets (RFC 2449)");
                else command(line.text());
            }
            flush();
        } catch (SocketTimeoutException e) {
            endReason = "inactivity timeout";
            farewell("disconnected for inactivity");
        } catch (IOException e) {
            endReason = "connection lost: " + e.getMessage();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "pop3 session=" + id + " failed", e);
            endReason = "internal error: " + e;
            farewell("[SYS/TEMP] internal error, try again later");
        } finally {
            if (lease != null) lease.close();
            conn.close();
            LOG.info(() -> "pop3 session=" + id + " end client=" + remote.getHostAddress()
                    + (account != null ? " user=" + account : "") + " reason=" + endReason);
        }
    }

    /** A last -ERR on a connection that may already be broken. */
    private void farewell(String text) {
        try {
            err(text);
            flush();
        } catch (IOException | RuntimeException ignored) {
            // the client is gone or not listening: nothing more to do
        }
    }

    private void command(String line) throws IOException {
        int sp = line.indexOf(' ');
        String verb = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
        String args = sp < 0 ? "" : line.substring(sp + 1);
        if (state == State.AUTHORIZATION) authorization(verb, args);
        else transaction(verb, args);
    }

    // ---- AUTHORIZATION (RFC 1939 section 4 and 7) --------------------------------------------------------

    private void authorization(String verb, String args) throws IOException {
        switch (verb) {
            case "CAPA" -> capa();
            case "USER" -> onUser(args);
            case "PASS" -> onPass(args);
            case "AUTH" -> onAuth(args);
            case "STLS" -> onStls(args);
            case "APOP" -> err("APOP is not supported: passwords are stored only as hashes; use USER/PASS or AUTH PLAIN over TLS");
            case "QUIT" -> {
                ok(service.hostname() + " POP3 server signing off");
                endReason = "QUIT before login";
                closing = true;
            }
            case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL" -> bad("log in first");
            default -> bad("unknown command");
        }
    }

    /** RFC 2595 section 2.1: no password in clear unless the configuration allows it for this client. */
    private boolean plaintextAllowed() {
        if (conn.isTls()) return true;
        return switch (service.settings().plaintext()) {
            case ALWAYS -> true;
            case NEVER -> false;
            case LOOPBACK -> remote.isLoopbackAddress();
        };
    }

    private void refusePlaintext() throws IOException {
        err("[AUTH] plaintext authentication is not allowed on an unencrypted connection: use STLS first");
    }

    private void onUser(String args) throws IOException {
        String name = args.strip();
        if (name.isEmpty() || name.contains(" ")) { err("syntax: USER name"); return; }
        if (!plaintextAllowed()) { refusePlaintext(); return; }
        user = name;
        ok("send PASS"); // the same whether or not the name exists (RFC 1939 section 13)
    }

    private void onPass(String args) throws IOException {
        if (user == null) { err("send USER first"); return; }
        if (!plaintextAllowed()) { refusePlaintext(); return; }
        // RFC 1939 section 7: PASS has exactly one argument, so spaces in it are part of the password
        if (args.isEmpty()) { err("syntax: PASS password"); return; }
        String name = user;
        user = null; // a failed PASS goes back to the start of AUTHORIZATION
        login(name, args);
    }

    /** SASL (RFC 5034) with PLAIN (RFC 4616), the only mechanism that works with hashed passwords. */
    private void onAuth(String args) throws IOException {
        String[] parts = args.strip().isEmpty() ? new String[0] : args.strip().split(" +");
        if (parts.length == 0) { // the mechanism list some clients ask for (RFC 1734 practice)
            List<String> lines = new ArrayList<>();
            if (plaintextAllowed()) lines.add("PLAIN");
            multiline("list of SASL mechanisms follows", lines);
            return;
        }
        if (parts.length > 2) { err("syntax: AUTH mechanism [initial-response]"); return; }
        if (!parts[0].equalsIgnoreCase("PLAIN")) { err("unsupported authentication mechanism"); return; }
        if (!plaintextAllowed()) { refusePlaintext(); return; }
        user = null;
        String response;
        if (parts.length == 2) {
            response = parts[1].equals("=") ? "" : parts[1]; // RFC 5034 section 4: "=" is an empty initial response
        } else {
            send("+ ");
            flush();
            LineReader.Line line = in.readLine(MAX_SASL_RESPONSE);
            if (line == null) {
                closing = true;
                return;
            }
            if (line.tooLong()) { err("[AUTH] authentication response too long"); return; }
            response = line.text().strip();
        }
        if (response.equals("*")) { err("authentication cancelled"); return; } // RFC 5034 section 4
        byte[] decoded;
        try {
            decoded = Base64.getDecoder().decode(response);
        } catch (IllegalArgumentException e) {
            err("malformed base64 in the authentication response");
            return;
        }
        // authzid NUL authcid NUL passwd (RFC 4616 section 2)
        String[] fields = new String(decoded, StandardCharsets.UTF_8).split("\0", -1);
        if (fields.length != 3 || fields[1].isEmpty() || fields[2].isEmpty()) { err("malformed PLAIN response"); return; }
        if (!fields[0].isEmpty() && !fields[0].equals(fields[1])) { // no logging in as somebody else
            err("[AUTH] authentication failed");
            return;
        }
        login(fields[1], fields[2]);
    }

    private void login(String name, String password) throws IOException {
        String lower = name.toLowerCase(Locale.ROOT);
        LoginGuard.Verdict v = service.guard().login(remote.getHostAddress(), lower, password.toCharArray());
        switch (v) {
            case OK -> open(lower);
            case CLIENT_LOCKED -> {
                log("login", "deny", "client locked out after failed logins (user " + printable(lower) + ")");
                err("[AUTH] too many failed logins, try again later");
                endReason = "client locked out";
                closing = true;
            }
            case ACCOUNT_LOCKED, BAD_CREDENTIALS -> {
                log("login", "deny", (v == LoginGuard.Verdict.ACCOUNT_LOCKED ? "account locked out" : "bad credentials")
                        + " for " + printable(lower));
                err("[AUTH] authentication failed");
            }
        }
    }

    /** After a good password: lock the mailbox and take the snapshot, or stay in AUTHORIZATION. */
    private void open(String name) throws IOException {
        MailboxLocks.Lease l = service.locks().tryLock(name);
        if (l == null) {
            log("login", "deny", name + ": mailbox in use by another session");
            err("[IN-USE] mailbox in use by another POP3 session, try again later");
            return;
        }
        try {
            drop = Maildrop.open(service.maildir(name));
        } catch (NotDirectoryException | AccessDeniedException e) {
            l.close();
            LOG.warning(() -> "pop3 session=" + id + " cannot open mailbox " + service.maildir(name) + ": " + e);
            err("[SYS/PERM] mailbox cannot be opened; please contact the postmaster");
            return;
        } catch (IOException | RuntimeException e) {
            l.close();
            LOG.warning(() -> "pop3 session=" + id + " cannot read mailbox " + service.maildir(name) + ": " + e);
            err("[SYS/TEMP] mailbox cannot be read now, try again later");
            return;
        }
        lease = l;
        account = name;
        state = State.TRANSACTION;
        log("login", "ok", name + " (" + drop.visibleCount() + " messages)" + (conn.isTls() ? " over TLS" : " in clear"));
        ok(name + " has " + drop.visibleCount() + " messages (" + drop.visibleOctets() + " octets)");
    }

    /** RFC 2595 section 4. */
    private void onStls(String args) throws IOException {
        if (!args.isBlank()) { err("syntax: STLS"); return; }
        if (conn.isTls()) { err("TLS already active"); return; }
        if (!conn.canStartTls()) { err("TLS not available"); return; }
        ok("begin TLS negotiation");
        flush();
        in.discardBuffered(); // what the client sent after STLS came in clear: forget it
        try {
            conn.readTimeout(handshakeTimeout(service.settings()));
            conn.startTls();
            conn.readTimeout(service.settings().timeout());
        } catch (IOException e) {
            endReason = "TLS handshake failed: " + e.getMessage();
            closing = true;
            return;
        }
        in.switchTo(conn.input());
        out = new LazyBufferedOutputStream(conn.output(), 8192);
        user = null; // a USER given in clear does not count
    }

    /** RFC 2449 section 5; what needs TLS or AUTHORIZATION is listed only where it can be used. */
    private void capa() throws IOException {
        List<String> caps = new ArrayList<>(List.of("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"));
        if (state == State.AUTHORIZATION) {
            if (plaintextAllowed()) {
                caps.add("USER");
                caps.add("SASL PLAIN");
            }
            if (conn.canStartTls()) caps.add("STLS");
        }
        caps.add("IMPLEMENTATION Portcullis");
        multiline("capability list follows", caps);
    }

    // ---- TRANSACTION (RFC 1939 section 5 and 7) ----------------------------------------------------------

    private void transaction(String verb, String args) throws IOException {
        switch (verb) {
            case "STAT" -> {
                if (noArgs(args, "STAT")) ok(drop.visibleCount() + " " + drop.visibleOctets());
            }
            case "LIST" -> list(args, false);
            case "UIDL" -> list(args, true);
            case "RETR" -> retr(args);
            case "TOP" -> top(args);
            case "DELE" -> dele(args);
            case "NOOP" -> {
                if (noArgs(args, "NOOP")) ok("");
            }
            case "RSET" -> {
                if (!noArgs(args, "RSET")) return;
                drop.undeleteAll();
                ok("maildrop has " + drop.visibleCount() + " messages (" + drop.visibleOctets() + " octets)");
            }
            case "QUIT" -> quit();
            case "CAPA" -> capa();
            case "USER", "PASS", "AUTH", "APOP", "STLS" -> bad("already logged in");
            default -> bad("unknown command");
        }
    }

    private boolean noArgs(String args, String verb) throws IOException {
        if (args.isBlank()) return true;
        err("syntax: " + verb);
        return false;
    }

    /** LIST or UIDL, for one message or all that are not deleted. */
    private void list(String args, boolean uidl) throws IOException {
        String a = args.strip();
        if (!a.isEmpty()) {
            Maildrop.Message m = message(a);
            if (m != null) ok(Long.parseLong(a) + " " + (uidl ? m.uidl() : Long.toString(m.size)));
            return;
        }
        List<String> lines = new ArrayList<>();
        List<Maildrop.Message> all = drop.messages();
        for (int i = 0; i < all.size(); i++) {
            Maildrop.Message m = all.get(i);
            if (!m.deleted) lines.add((i + 1) + " " + (uidl ? m.uidl() : Long.toString(m.size)));
        }
        multiline(uidl ? "unique-id listing follows" : drop.visibleCount() + " messages (" + drop.visibleOctets() + " octets)", lines);
    }

    private void retr(String args) throws IOException {
        Maildrop.Message m = message(args.strip());
        if (m == null) return;
        if (send(m, m.size + " octets", -1)) m.retrieved = true;
    }

    /** TOP msg n (RFC 1939 section 7): the header, the blank line and n lines of the body. Does not mark it read. */
    private void top(String args) throws IOException {
        String[] parts = args.strip().split(" +");
        if (parts.length != 2 || !parts[1].matches("\\d{1,18}")) { err("syntax: TOP message lines"); return; }
        Maildrop.Message m = message(parts[0]);
        if (m == null) return;
        send(m, "top of message follows", Long.parseLong(parts[1]));
    }

    /** Streams one message as a multi-line reply; false (with -ERR sent) when its file cannot be opened. */
    private boolean send(Maildrop.Message m, String okText, long bodyLines) throws IOException {
        InputStream file;
        try {
            file = drop.open(m);
        } catch (NoSuchFileException e) {
            err("message was removed from the mailbox by another program");
            return false;
        } catch (IOException e) {
            LOG.warning(() -> "pop3 session=" + id + " cannot read " + m.path + ": " + e);
            err("[SYS/TEMP] message cannot be read now, try again later");
            return false;
        }
        try (file) {
            ok(okText);
            // a read error from here on cannot be reported: the +OK is out, so it ends the session (no UPDATE)
            WireFormat.copy(file, out, bodyLines);
            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        return true;
    }

    private void dele(String args) throws IOException {
        String a = args.strip();
        Maildrop.Message m = message(a);
        if (m == null) return;
        m.deleted = true;
        ok("message " + Long.parseLong(a) + " deleted");
    }

    /** QUIT in TRANSACTION: the UPDATE state (RFC 1939 section 6), then the end. */
    private void quit() throws IOException {
        closing = true;
        Maildrop.Update u = drop.update();
        lease.close();
        lease = null;
        endReason = "QUIT, deleted " + u.deleted() + ", marked seen " + u.seen() + ", left " + u.left()
                + (u.failed() > 0 ? ", FAILED " + u.failed() : "");
        if (u.failed() > 0) err("[SYS/TEMP] some deleted messages not removed");
        else ok(service.hostname() + " POP3 server signing off (" + u.left() + " messages left)");
    }

    /**
     * The message a number names, or null after telling the client why not: not a number, out of range, or
     * deleted (RFC 1939 section 5: a deleted message may not be referred to).
     */
    private Maildrop.Message message(String arg) throws IOException {
        if (!arg.matches("\\d{1,10}")) { err("syntax: a message number is expected"); return null; }
        Maildrop.Message m = drop.get(Long.parseLong(arg));
        if (m == null) { err("no such message, only " + drop.size() + " messages in maildrop"); return null; }
        if (m.deleted) { err("message " + Long.parseLong(arg) + " already deleted"); return null; }
        return m;
    }

    static Duration handshakeTimeout(Config.Pop3 settings) {
        return settings.timeout().compareTo(HANDSHAKE_TIMEOUT) < 0 ? settings.timeout() : HANDSHAKE_TIMEOUT;
    }

    // ---- replies ------------------------------------------------------------------------------------

    private void bad(String text) throws IOException {
        if (++badCommands >= MAX_BAD_COMMANDS) {
            err(text + "; too many bad commands, closing the connection");
            endReason = "too many bad commands";
            closing = true;
        } else {
            err(text);
        }
    }

    private void ok(String text) throws IOException { send(text.isEmpty() ? "+OK" : "+OK " + text); }

    private void err(String text) throws IOException { send("-ERR " + text); }

    /** A multi-line reply (RFC 1939 section 3): the +OK line, the lines (byte-stuffed), then ".". */
    private void multiline(String text, List<String> lines) throws IOException {
        ok(text);
        for (String l : lines) send(l.startsWith(".") ? "." + l : l);
        send(".");
    }

    private void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    private void flush() throws IOException {
        if (out != null) out.flush();
    }

    /** One log line per decision: protocol, phase, result, reason. */
    private void log(String phase, String result, String reason) {
        LOG.info(() -> "pop3 session=" + id + " client=" + remote.getHostAddress() + " " + phase + " " + result + ": " + reason);
    }

    /** Client-chosen text for the log: no control characters, bounded. */
    private static String printable(String s) {
        String p = s.replaceAll("\\p{Cntrl}", "?");
        return p.length() > 64 ? p.substring(0, 64) + "..." : p;
    }
}
