package dev.portcullis.smtp;

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

/**
 * The content rules' scan of a received message ({@link ContentCheck#of}: line lengths, NUL, bare CR/LF,
 * Received fields), the second pass over every message after DATA framing. One op is one message.
 * Text lines of 76 octets, as {@link DataReadingBenchmark}'s content.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ContentCheckBenchmark {

    @Param({"5120", "102400"})
    public int size;

    private byte[] content;

    @Setup(Level.Trial)
    public void setUp() {
        content = DataPayload.of(size, 76, 0).content;
    }

    @Benchmark
    public ContentCheck scan() {
        return ContentCheck.of(content, content.length);
    }
}
