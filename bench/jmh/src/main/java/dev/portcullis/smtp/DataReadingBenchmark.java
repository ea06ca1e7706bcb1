package dev.portcullis.smtp;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The DATA phase as the session reads it: {@link SmtpInput#readData} on a message in memory, up to and
 * including the end-of-data line, into a new {@link MessageBuffer}. One op is one message; the
 * {@code megabytes} result is the same in MB the client sent per second.
 * Text lines of 76 octets; {@code dots=some} makes every 10th body line start with '.' (stuffed on the wire).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DataReadingBenchmark {

    @Param({"5120", "102400"})
    public int size;

    @Param({"none", "some"})
    public String dots;

    private DataReplay replay;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        replay = new DataReplay(DataPayload.of(size, 76, dots.equals("some") ? 10 : 0));
    }

    @Benchmark
    public void readData(WireBytes counted, Blackhole bh) throws IOException {
        replay.readOnce(counted, bh);
    }
}
