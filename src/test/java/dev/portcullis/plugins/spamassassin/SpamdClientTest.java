package dev.portcullis.plugins.spamassassin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.PluginSettings;
import dev.portcullis.testkit.PluginHarness;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reading spamd's answers (as recorded from Debian's spamd 4.0.1) and the plugin's settings. The protocol
 * itself is exercised against the real spamd in {@link SpamAssassinPluginTest}.
 */
@Timeout(30)
class SpamdClientTest {
    static SpamdClient.Verdict parse(String answer) throws SpamdClient.ScanException {
        return SpamdClient.parse(answer.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test void readsTheVerdictAndTheRules() throws Exception {
        var v = parse("SPAMD/1.1 0 EX_OK\r\nContent-length: 74\r\nSpam: True ; 1001.1 / 5.0\r\n\r\n"
                + "DKIM_ADSP_NXDOMAIN,GTUBE,MSGID_SHORT,NO_RECEIVED,NO_RELAYS,TVD_SPACE_RATIO");
        assertTrue(v.spam());
        assertEquals(1001.1, v.score());
        assertEquals(5.0, v.required());
        assertEquals(List.of("DKIM_ADSP_NXDOMAIN", "GTUBE", "MSGID_SHORT", "NO_RECEIVED", "NO_RELAYS", "TVD_SPACE_RATIO"), v.rules());
    }

    @Test void hamWithANegativeZeroScoreAndNoRules() throws Exception {
        var v = parse("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; -0.0 / 5.0\r\n\r\n");
        assertFalse(v.spam());
        assertEquals(0.0, v.score(), 0.0);
        assertEquals(List.of(), v.rules());
        assertEquals("0.0", SpamAssassinPlugin.format1(v.score()));
    }

    @Test void errorsAndGarbageAreScanFailuresNotVerdicts() {
        assertThrows(SpamdClient.ScanException.class, () -> parse(""));
        assertThrows(SpamdClient.ScanException.class, () -> parse("SPAMD/1.0 76 Bad header line: (Content-length mismatch)\r\n"));
        assertThrows(SpamdClient.ScanException.class, () -> parse("HTTP/1.1 200 OK\r\n\r\n"));
        assertThrows(SpamdClient.ScanException.class, () -> parse("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n"));
        assertThrows(SpamdClient.ScanException.class, () -> parse("SPAMD/1.1 0 EX_OK\r\nSpam: maybe\r\n\r\n"));
    }

    @Test void theTestsListStaysShortEnoughForOneHeaderLine() {
        List<String> many = java.util.stream.IntStream.range(0, 200).mapToObj(i -> "RULE_NUMBER_" + i).toList();
        String tests = SpamAssassinPlugin.tests(many);
        assertTrue(tests.length() < 900, tests);
        assertTrue(tests.endsWith(",..."), tests);
        assertEquals("none", SpamAssassinPlugin.tests(List.of()));
    }

    @Test void settingsAreCheckedAtStartUp() {
        try (PluginHarness h = PluginHarness.inMemory(null)) {
            assertEquals("spamassassin", h.plugin("spamassassin", "").name());
            h.plugin("spamassassin", "address = \"[::1]:783\"\nmax_size = 1048576\ntimeout = \"5s\"").close();
            h.plugin("spamassassin", "socket = \"/run/spamd.sock\"\nmax_size = \"2MB\"\nauthenticated = \"hold\"").close();
            for (String bad : List.of("address = \"127.0.0.1\"", "address = \"127.0.0.1:99999\"",
                    "address = \"127.0.0.1:783\"\nsocket = \"/run/spamd.sock\"", "max_size = \"lots\"", "max_size = -1",
                    "flag_score = 12\nreject_score = 10", "authenticated = \"never\"", "on_error = \"bounce\"",
                    "status_header = \"X Spam\"", "timeout = \"0s\"", "unknown_key = 1")) {
                var e = assertThrows(PluginSettings.SettingException.class, () -> h.plugin("spamassassin", bad), bad);
                assertTrue(e.getMessage().contains("test.toml"), e.getMessage());
            }
        }
    }
}
