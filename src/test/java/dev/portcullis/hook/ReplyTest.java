package dev.portcullis.hook;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReplyTest {

    @Test
    void enhancedCodesFollowRfc3463() {
        for (String ok : List.of("2.0.0", "5.7.1", "4.4.10", "5.123.456", "2.1.5"))
            assertDoesNotThrow(() -> new Reply(ok.charAt(0) == '2' ? 250 : ok.charAt(0) == '4' ? 451 : 550, ok, "text"), ok);
        for (String bad : List.of("", "2.0", "2.0.", "3.0.0", "2.0.1234", "2.1234.0", "2.a.0", "2.0.0x", "2..0", "x.0.0", " 2.0.0"))
            assertThrows(IllegalArgumentException.class, () -> new Reply(250, bad, "text"), bad);
        assertThrows(IllegalArgumentException.class, () -> new Reply(550, "4.7.1", "class and code differ"));
        assertThrows(IllegalArgumentException.class, () -> new Reply(199, null, "code out of range"));
    }

    @Test
    void aLineBreakInTheTextCannotStartASecondReply() {
        Reply r = new Reply(550, "5.7.1", List.of("no\r\n250 2.0.0 injected", "second"));
        assertEquals("550-5.7.1 no  250 2.0.0 injected\r\n550 5.7.1 second\r\n", r.wire());
        assertEquals(List.of(""), new Reply(250, null, List.of()).lines());
    }
}
