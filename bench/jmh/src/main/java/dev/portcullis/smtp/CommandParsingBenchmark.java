package dev.portcullis.smtp;

import dev.portcullis.config.Config;
import dev.portcullis.hook.Address;
import dev.portcullis.hook.HookResult;
import dev.portcullis.hook.LocalRecipients;
import dev.portcullis.hook.RcptContext;
import dev.portcullis.hook.RcptHook;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Command parsing, in time per command:
 * - {@code mailFromPath}, {@code rcptToPath}: {@link PathParser#parse} of what follows "MAIL FROM:" and "RCPT TO:".
 * - {@code commandLines}: {@link SmtpInput#readCommandLine} framing a pipelined batch of command lines.
 * - {@code session}: the same batch through a whole {@link SmtpSession}: framing, the verb/argument split
 *   and checks (private to SmtpSession, so measured only here), UTF-8 decoding, PathParser, MAIL parameter
 *   checks, the hook chain (one plugin that accepts every recipient) and the replies. One invocation is a
 *   session of {@value #COMMANDS} commands; the session's set-up (its buffers) is shared out among them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CommandParsingBenchmark {

    private static final int TRANSACTIONS = 10;
    /** The limit SmtpSession reads command lines with (an AUTH line, RFC 4954 section 4). */
    private static final int READ_LIMIT = 12288;
    /** EHLO, then per transaction MAIL, RCPT, RCPT, RSET, then QUIT. */
    static final int COMMANDS = 1 + TRANSACTIONS * 4 + 1;

    /** Kept here so the level below holds: loggers are referenced weakly. */
    private static final Logger PORTCULLIS_LOG = Logger.getLogger("portcullis");

    // Fields, not constants, so the JIT cannot fold the parsing away.
    private String mailArguments = "<sender@example.org> SIZE=5120 BODY=8BITMIME";
    private String rcptArguments = "<alice@example.test>";
    private byte[] script;
    private ByteArrayInputStream scriptStream;
    private SmtpInput scriptInput;
    private SmtpService service;

    @Setup
    public void setUp() throws IOException {
        // the session logs one INFO line at its end: that is the logger's cost, not parsing
        PORTCULLIS_LOG.setLevel(Level.WARNING);
        StringBuilder sb = new StringBuilder("EHLO client.example.org\r\n");
        for (int i = 0; i < TRANSACTIONS; i++) {
            sb.append("MAIL FROM:<sender@example.org> SIZE=5120 BODY=8BITMIME\r\n")
                    .append("RCPT TO:<alice@example.test>\r\n")
                    .append("RCPT TO:<bob@example.test>\r\n")
                    .append("RSET\r\n");
        }
        sb.append("QUIT\r\n");
        script = sb.toString().getBytes(StandardCharsets.US_ASCII);
        scriptStream = new ByteArrayInputStream(script);
        scriptInput = new SmtpInput(scriptStream, () -> {});
        for (int i = 0; i < COMMANDS; i++) {
            SmtpInput.Line line = scriptInput.readCommandLine(READ_LIMIT);
            if (line == null || line.tooLong()) throw new IllegalStateException("command line " + i + ": " + line);
        }
        if (scriptInput.hasBuffered()) throw new IllegalStateException("the batch was not read to its end");

        Config.Smtp limits = new Config.Smtp(25L << 20, 100, 30, 20, false,
                Duration.ofMinutes(5), Duration.ofMinutes(10), "ESMTP Portcullis");
        service = new SmtpService("mx.example.test", limits, new HookChain(List.of(new AcceptEveryRecipient())),
                null, id -> {}, Clock.systemUTC(), List.of(), List.of(), new NoLocalDomains(), "example.test");
        checkSession();
    }

    @Benchmark
    public PathParser.Parsed mailFromPath() throws PathParser.PathException {
        return PathParser.parse(mailArguments, true);
    }

    @Benchmark
    public PathParser.Parsed rcptToPath() throws PathParser.PathException {
        return PathParser.parse(rcptArguments, false);
    }

    @Benchmark
    @OperationsPerInvocation(COMMANDS)
    public void commandLines(Blackhole bh) throws IOException {
        scriptStream.reset(); // the previous invocation read the batch to its last octet
        for (int i = 0; i < COMMANDS; i++) bh.consume(scriptInput.readCommandLine(READ_LIMIT));
    }

    @Benchmark
    @OperationsPerInvocation(COMMANDS)
    public long session() {
        PipelinedClient client = new PipelinedClient(script, false);
        new SmtpSession(service, client, "mx", "B1").run();
        return client.written();
    }

    /** Every command must get the reply a good session gives it, or the figures mean nothing. */
    private void checkSession() {
        PipelinedClient client = new PipelinedClient(script, true);
        new SmtpSession(service, client, "mx", "B0").run();
        List<String> finals = client.replies().lines().filter(l -> l.length() > 3 && l.charAt(3) == ' ').toList();
        long ok = finals.stream().filter(l -> l.startsWith("250 ")).count();
        if (finals.size() != COMMANDS + 1 || !finals.getFirst().startsWith("220 ") || ok != COMMANDS - 1 || !finals.getLast().startsWith("221 "))
            throw new IllegalStateException("expected a 220 greeting, " + (COMMANDS - 1) + " times 250 and a 221, got:\n"
                    + client.replies());
    }

    /** The one plugin: says yes to every recipient, so RCPT gets its 250. */
    static final class AcceptEveryRecipient implements RcptHook {
        @Override public String name() { return "accept"; }
        @Override public HookResult onRcpt(RcptContext ctx) { return HookResult.ok(null); }
    }

    static final class NoLocalDomains implements LocalRecipients {
        @Override public boolean isLocalDomain(String domain) { return false; }
        @Override public Optional<List<String>> mailboxesFor(Address address) { return Optional.empty(); }
    }
}
