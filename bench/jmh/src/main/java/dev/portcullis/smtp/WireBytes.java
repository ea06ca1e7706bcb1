package dev.portcullis.smtp;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A JMH secondary result: megabytes (10^6 octets) the client sent in DATA, dot-stuffed, with the
 * end-of-data line. JMH divides it by the time, so in Throughput mode its "ops/s" are MB/s.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class WireBytes {
    public double megabytes;

    @Setup(Level.Iteration)
    public void reset() { megabytes = 0; }

    void add(int octets) { megabytes += octets / 1e6; }
}
