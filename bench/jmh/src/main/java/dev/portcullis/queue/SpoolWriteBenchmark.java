package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * {@link Spool#store} of {@link FileSpool}: a 5 KB message (Received header and body, as two buffers as the
 * session hands them over) with its envelope, durably: store returns once the message survives a crash.
 * So mostly the cost of fsync on the disk under java.io.tmpdir (/tmp). One op is one message stored; the
 * score is messages per second, over all threads together.
 * {@code store} is one thread; {@code store20} twenty at once, as twenty SMTP sessions accepting at the
 * same moment. {@code commit=classic}: FileSpool on its own, each store forces its file and the messages/
 * folder; {@code commit=group}: as the server runs it ({@link FileSpool#startGroupCommit}), one writer
 * thread forces the journal once for all the messages waiting. The spool logs, when it closes after each
 * iteration, how many messages it committed in how many fsyncs.
 * Every iteration gets a new, empty queue folder, removed after it, so the folder does not grow.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class SpoolWriteBenchmark {

    private static final int SIZE = 5 * 1024;

    @Param({"classic", "group"})
    public String commit;

    private Path dir;
    /** Replaced between iterations, while no benchmark thread runs. */
    private volatile FileSpool spool;
    private ByteBuffer received;
    private ByteBuffer body;
    private Address sender;
    private List<Address> recipients;
    private Map<String, String> parameters;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        // one line per log record (the spool's commit count): set before the first logger exists
        System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s %3$s: %5$s%6$s%n");
        dir = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "portcullis-jmh-spool");
        // a run stopped by Ctrl-C or SIGTERM skips @TearDown, but not the JVM's shutdown hooks
        Runtime.getRuntime().addShutdownHook(new Thread(this::removeLeftovers));
        String header = "Received: from client.example.org ([192.0.2.1])\r\n"
                + "\tby mx.example.test (Portcullis) with ESMTP id 0000000000000000\r\n"
                + "\tfor <alice@example.test>;\r\n"
                + "\tWed, 1 May 2024 12:00:00 +0000\r\n";
        received = ByteBuffer.wrap(header.getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();
        byte[] text = new byte[SIZE - received.remaining()];
        for (int i = 0; i < text.length; i++) text[i] = (byte) ((i + 2) % 78 == 0 ? '\r' : (i + 1) % 78 == 0 ? '\n' : 'x');
        body = ByteBuffer.wrap(text).asReadOnlyBuffer();
        sender = Address.of("sender", "example.org");
        recipients = List.of(Address.of("alice", "example.test"));
        parameters = Map.of("SIZE", String.valueOf(SIZE), "BODY", "8BITMIME");
    }

    @Benchmark
    public void store() throws IOException {
        storeOne();
    }

    @Benchmark
    @Threads(20)
    public void store20() throws IOException {
        storeOne();
    }

    private void storeOne() throws IOException {
        // A new id each time, as the session takes one per message; store() leaves the buffers as they were.
        Envelope envelope = new Envelope(QueueIds.next(), sender, recipients, Instant.now(), "192.0.2.1",
                "client.example.org", null, parameters);
        spool.store(envelope, List.of(received, body));
    }

    /** As the server opens its spool: recover (here: nothing), then group commit when asked. */
    @Setup(Level.Iteration)
    public void openSpool() throws IOException {
        FileSpool opened = new FileSpool(dir.resolve("queue"));
        opened.recover();
        if (commit.equals("group")) opened.startGroupCommit();
        spool = opened;
    }

    /** Once the threads of an iteration are done: the spool is closed and its folder goes, with every message. */
    @TearDown(Level.Iteration)
    public void removeSpool() throws IOException {
        spool.close();
        removeTree(dir.resolve("queue"));
    }

    @TearDown(Level.Trial)
    public void removeFolder() throws IOException {
        removeTree(dir);
    }

    /**
     * The benchmark threads may still be storing: the first pass removes tmp/ and messages/ under them (so
     * their next store fails), the next passes take what they wrote meanwhile.
     */
    private void removeLeftovers() {
        for (int attempt = 1; Files.exists(dir); attempt++) {
            try {
                removeTree(dir);
            } catch (IOException | UncheckedIOException e) {
                if (attempt == 20) {
                    System.err.println("could not remove " + dir + ": " + e);
                    return;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException stop) {
                    return;
                }
            }
        }
    }

    private static void removeTree(Path top) throws IOException {
        try (Stream<Path> all = Files.walk(top)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
