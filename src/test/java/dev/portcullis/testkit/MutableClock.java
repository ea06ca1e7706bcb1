package dev.portcullis.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that only moves when told to, so time-based rules are tested without sleeping. Thread-safe. */
public final class MutableClock extends Clock {
    public static final Instant START = Instant.parse("2024-05-01T12:00:00Z");

    private final AtomicReference<Instant> now;

    public MutableClock(Instant start) { this.now = new AtomicReference<>(start); }

    public MutableClock() { this(START); }

    public void advance(Duration d) { now.updateAndGet(i -> i.plus(d)); }

    @Override public Instant instant() { return now.get(); }
    @Override public long millis() { return now.get().toEpochMilli(); }
    @Override public ZoneId getZone() { return ZoneOffset.UTC; }
    @Override public Clock withZone(ZoneId zone) { return this; }
}
