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
 * Dot-unstuffing alone: the same {@link SmtpInput#readData} as {@link DataReadingBenchmark}, on a 100 KB
 * body where every line starts with '.' (sent as "..", {@code dots=all}) or none does. Short lines
 * ({@code line=16}) make the per-line work, where the dot is handled, a large share of the time; 76 is
 * ordinary text. One op is one message; {@code megabytes} is MB the client sent per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DotUnstuffingBenchmark {

    @Param({"16", "76"})
    public int line;

    @Param({"none", "all"})
    public String dots;

    private DataReplay replay;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        replay = new DataReplay(DataPayload.of(102400, line, dots.equals("all") ? 1 : 0));
    }

    @Benchmark
    public void readData(WireBytes counted, Blackhole bh) throws IOException {
        replay.readOnce(counted, bh);
    }
}
