package dev.portcullis.hook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DecisionTraceTest {

    @Test
    void aTransactionSeesTheSessionsVerdictsAndItsOwnButNotAnEarlierTransactions() {
        DecisionTrace trace = new DecisionTrace();
        trace.add("dnsbl", "connect", "pass", "not listed");
        trace.add("helo", "helo", "pass", "ok");
        int first = trace.size();
        trace.add("spf", "mail", "pass", "first message");
        trace.add("rcpt", "rcpt", "ok", "local mailbox");
        trace.add("auth", "auth", "ok", "authenticated between the two");
        assertEquals(List.of("dnsbl", "helo", "spf", "rcpt", "auth"),
                trace.forTransaction(first).stream().map(DecisionTrace.Entry::plugin).toList());
        int second = trace.size();
        trace.add("spf", "mail", "flag", 1.5, "second message");

        List<DecisionTrace.Entry> mine = trace.forTransaction(second);
        assertEquals(List.of("dnsbl", "helo", "auth", "spf"), mine.stream().map(DecisionTrace.Entry::plugin).toList());
        assertEquals("second message", mine.getLast().reason());
        assertEquals("dnsbl@connect=pass \"not listed\"; helo@helo=pass \"ok\"; auth@auth=ok \"authenticated between the two\"; "
                + "spf@mail=flag(+1.5) \"second message\"", DecisionTrace.describe(mine));
    }

    @Test
    void theScoreIsTheSumOfEveryVerdictsScore() {
        DecisionTrace trace = new DecisionTrace();
        for (int i = 0; i < 10; i++) trace.add("x", "rcpt", "flag", 0.1, null);
        trace.add("karma", "connect", "history", -5, null);
        assertEquals(-4.0, trace.score(), 1e-12);
        assertEquals(trace.entries().stream().mapToDouble(DecisionTrace.Entry::score).sum(), trace.score(), 1e-12);
    }

    @Test
    void theSessionLineStopsAfterItsLimitAndSaysHowManyMore() {
        DecisionTrace trace = new DecisionTrace();
        for (int i = 0; i < DecisionTrace.MAX_LOGGED + 30; i++) trace.add("rcpt", "rcpt", "ok", "m" + i);
        String line = trace.toString();
        assertTrue(line.contains("\"m" + (DecisionTrace.MAX_LOGGED - 1) + "\""), line);
        assertTrue(!line.contains("\"m" + DecisionTrace.MAX_LOGGED + "\""), "past the limit");
        assertTrue(line.endsWith("; and 30 more (each message's line has its own)"), line);
    }

    /**
     * describeTransaction is describe(forTransaction(start)) and toString is the whole trace, whether or not
     * they reuse the text built before: checked after every verdict of random sessions, where session and
     * transaction phases mix, transactions start anywhere, and a trace may pass the session line's limit.
     */
    @Test
    void theLogLinesTextIsTheSameWhetherBuiltAgainOrReused() {
        java.util.Random random = new java.util.Random(42);
        List<String> phases = List.of("connect", "helo", "auth", "mail", "rcpt", "data", "reset");
        int reused = 0;
        for (int run = 0; run < 300; run++) {
            DecisionTrace trace = new DecisionTrace();
            int start = 0;
            int verdicts = random.nextInt(run % 10 == 0 ? 2 * DecisionTrace.MAX_LOGGED : 12);
            for (int i = 0; i < verdicts; i++) {
                if (random.nextInt(4) == 0) start = trace.size();
                trace.add("p" + i, phases.get(random.nextInt(phases.size())), "pass", "reason " + i);
                String whole = trace.toString();
                assertEquals(whole, trace.toString());
                List<DecisionTrace.Entry> all = trace.entries();
                assertEquals(all.size() <= DecisionTrace.MAX_LOGGED ? DecisionTrace.describe(all)
                        : DecisionTrace.describe(all.subList(0, DecisionTrace.MAX_LOGGED)) + "; and "
                        + (all.size() - DecisionTrace.MAX_LOGGED) + " more (each message's line has its own)", whole);
                String line = trace.describeTransaction(start);
                assertEquals(DecisionTrace.describe(trace.forTransaction(start)), line);
                if (line == whole) reused++;
            }
        }
        assertTrue(reused > 100, "the reuse was taken " + reused + " times");

        // past the session line's limit the message's line still has every verdict
        DecisionTrace many = new DecisionTrace();
        for (int i = 0; i < DecisionTrace.MAX_LOGGED + 5; i++) many.add("helo", "helo", "pass", "try " + i);
        int start = many.size();
        many.add("spf", "mail", "pass", "the message");
        assertEquals(DecisionTrace.describe(many.entries()), many.describeTransaction(start));
    }
}
