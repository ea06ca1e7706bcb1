package dev.portcullis.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LineInputTest {

    private static final LineInput.LineMaker<String> TEXT =
            (bytes, length, tooLong) -> tooLong ? "<too long>" : new String(bytes, 0, length, StandardCharsets.ISO_8859_1);

    private static LineInput input(String text, int bufferSize) {
        return new LineInput(new ByteArrayInputStream(text.getBytes(StandardCharsets.ISO_8859_1)), bufferSize, () -> {});
    }

    @Test
    void aShortCommandKeepsTheBufferSmall() throws IOException {
        LineInput in = input("EHLO client.example\r\n", 16384);
        assertEquals(0, in.bufferCapacity(), "nothing allocated before the first read");
        assertEquals("EHLO client.example", in.readLine(512, TEXT));
        assertTrue(in.bufferCapacity() <= 512, "capacity " + in.bufferCapacity());
    }

    @Test
    void aStreamOfDataGrowsTheBufferToItsLimitAndEveryLineSurvivesTheGrowth() throws IOException {
        StringBuilder text = new StringBuilder();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            String line = "line " + i + " " + "x".repeat(i % 97);
            expected.add(line);
            text.append(line).append(i % 3 == 0 ? "\n" : "\r\n");
        }
        LineInput in = input(text.toString(), 16384);
        for (String line : expected) assertEquals(line, in.readLine(1000, TEXT));
        assertNull(in.readLine(1000, TEXT));
        assertEquals(16384, in.bufferCapacity());
    }

    @Test
    void aLineLongerThanTheLimitIsReportedOnceAndReadingGoesOn() throws IOException {
        LineInput in = input("a".repeat(3000) + "\r\nnext\r\n", 16384);
        assertEquals("<too long>", in.readLine(512, TEXT));
        assertEquals("next", in.readLine(512, TEXT));
    }
}
