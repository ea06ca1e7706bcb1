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
}
