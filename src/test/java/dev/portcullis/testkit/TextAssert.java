package dev.portcullis.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on text (messages, traces, error messages) that show the whole text when they fail. */
public final class TextAssert {
    private TextAssert() {}

    public static void assertContains(String haystack, String needle) {
        assertTrue(haystack.contains(needle), () -> "expected to find " + needle + " in:\n" + haystack);
    }
}
