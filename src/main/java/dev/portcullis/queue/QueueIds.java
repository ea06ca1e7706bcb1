package dev.portcullis.queue;

import java.security.SecureRandom;

/**
 * Queue ids: 16 characters of [0-9A-Z], 10 for the epoch milliseconds and 6 for a counter, both in
 * Crockford's base-32 alphabet, whose digits are in ASCII order. So the name order of the files in the
 * queue is the order the messages arrived in, and recovery can sort by name.
 *
 * Invariants: every id this process hands out is greater than the one before (a clock stepped back by
 * NTP does not reorder the queue: we keep using the last millisecond); the counter starts at a random
 * value, so a restart within the same millisecond, or onto a clock that went backwards, still does not
 * reuse an id.
 */
public final class QueueIds {

    private static final char[] CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
    private static final int TIME_CHARS = 10;     // 50 bits of milliseconds: good until the year 37648
    private static final int COUNTER_CHARS = 6;   // 30 bits
    private static final int COUNTER_MASK = (1 << 5 * COUNTER_CHARS) - 1;

    private static final Object LOCK = new Object();
    private static long lastMillis;
    private static int counter = new SecureRandom().nextInt() & COUNTER_MASK;

    private QueueIds() {}

    /** A new id, unique and greater than every id handed out before by this process. */
    public static String next() {
        long millis;
        int count;
        synchronized (LOCK) {   // a few arithmetic steps: no blocking, so no virtual-thread pinning worth the name
            millis = Math.max(System.currentTimeMillis(), lastMillis);
            counter = (counter + 1) & COUNTER_MASK;
            // The counter wrapped inside one millisecond: borrow the next one so ids keep increasing.
            if (counter == 0 && millis == lastMillis) millis++;
            lastMillis = millis;
            count = counter;
        }
        char[] id = new char[TIME_CHARS + COUNTER_CHARS];
        encode(millis, id, 0, TIME_CHARS);
        encode(count, id, TIME_CHARS, COUNTER_CHARS);
        return new String(id);
    }

    private static void encode(long value, char[] into, int offset, int length) {
        for (int i = offset + length - 1; i >= offset; i--) {
            into[i] = CROCKFORD[(int) (value & 31)];
            value >>>= 5;
        }
    }
}
