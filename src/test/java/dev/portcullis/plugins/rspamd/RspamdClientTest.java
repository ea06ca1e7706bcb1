package dev.portcullis.plugins.rspamd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.hook.PluginSettings;
import dev.portcullis.testkit.PluginHarness;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reading /checkv2 answers — those marked "recorded" are what Debian's rspamd 3.4 answered to the test
 * configuration of {@link Rspamd} — and the plugin's settings. The exchange itself runs against the real
 * rspamd in {@link RspamdPluginTest}.
 */
@Timeout(30)
class RspamdClientTest {
    static RspamdClient.Answer parse(String json) throws RspamdClient.ScanException {
        return RspamdClient.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test void recordedGtubeReject() throws Exception {
        var a = parse("""
                {"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE",\
                "score":0.0,"metric_score":0.0}},"messages":{"smtp_message":"Gtube pattern"},"message-id":"undef",\
                "time_real":0.000261}""");
        assertEquals(RspamdPlugin.Verdict.REJECT, RspamdPlugin.Verdict.of(a.action()));
        assertEquals(15.0, a.score());
        assertEquals(15.0, a.required());
        assertEquals(List.of("GTUBE"), a.symbols());
        assertEquals("Gtube pattern", a.smtpMessage());
        assertNull(a.subject());
    }

    @Test void recordedRewriteSubjectWithAnEncodedSubject() throws Exception {
        var a = parse("""
                {"is_skipped":false,"score":9.0,"required_score":15.0,"action":"rewrite subject",\
                "subject":"=?UTF-8?Q?=2A=2A=2A_SPAM_=2A=2A=2A_Gr=C3=BC=C3=9Fe_s?= =?UTF-8?Q?core_9?=",\
                "symbols":{"PORTCULLIS_TEST_SCORE":{"name":"PORTCULLIS_TEST_SCORE","score":9.0,"metric_score":1.0,\
                "options":["subject"]}},"messages":{},"message-id":"undef","time_real":0.000482}""");
        assertEquals(RspamdPlugin.Verdict.REWRITE_SUBJECT, RspamdPlugin.Verdict.of(a.action()));
        // already RFC 2047: passed on as it is
        assertEquals(a.subject(), RspamdPlugin.encoded(a.subject()));
    }

    @Test void recordedMilterEdits() throws Exception {
        var a = parse("""
                {"is_skipped":false,"score":0.0,"required_score":15.0,"action":"no action","symbols":{},"messages":{},\
                "message-id":"undef","time_real":0.000450,"milter":{"remove_headers":{"X-Remove-Me":0},\
                "add_headers":{"X-Test-Added":"yes"}}}""");
        assertEquals(RspamdPlugin.Verdict.NO_ACTION, RspamdPlugin.Verdict.of(a.action()));
        assertEquals(Map.of("X-Remove-Me", 0), a.removeHeaders());
        assertEquals(Map.of("X-Test-Added", List.of("yes")), a.addHeaders());
    }

    @Test void milterHeaderValuesInEachFormRspamdUses() throws Exception {
        var a = parse("""
                {"action":"add header","score":6.5,"milter":{"add_headers":{
                  "X-A":{"value":"one","order":0},
                  "X-B":[{"value":"two","order":1},{"value":"three","order":2}],
                  "X-C":["four","five"]},
                 "remove_headers":{"X-Spam":1,"X-Old":-1}}}""");
        assertEquals(List.of("one"), a.addHeaders().get("X-A"));
        assertEquals(List.of("two", "three"), a.addHeaders().get("X-B"));
        assertEquals(List.of("four", "five"), a.addHeaders().get("X-C"));
        assertEquals(Map.of("X-Spam", 1, "X-Old", -1), a.removeHeaders());
        assertTrue(Double.isNaN(a.required()));
    }

    @Test void everyActionNameIsKnown() {
        for (String name : List.of("reject", "soft reject", "greylist", "rewrite subject", "add header", "no action", "add_header"))
            assertTrue(RspamdPlugin.Verdict.of(name) != null, name);
        assertNull(RspamdPlugin.Verdict.of("discard"));
    }

    @Test void nonAnswersAreScanFailures() {
        for (String bad : List.of("", "not json", "[]", "{\"score\":1}", "{\"action\":\"reject\"}",
                "{\"error\":\"Message has no body\"}", "{\"action\":3,\"score\":1}"))
            assertThrows(RspamdClient.ScanException.class, () -> parse(bad), bad);
    }

    @Test void headerValuesGoOutAsUtf8WithoutControlCharacters() {
        String wire = RspamdClient.wire("jö@ex.test\r\nX-Evil: 1");
        assertEquals("j\u00c3\u00b6@ex.test??X-Evil: 1", wire);
    }

    @Test void settingsAreCheckedAtStartUp() {
        try (PluginHarness h = PluginHarness.inMemory(null)) {
            assertEquals("rspamd", h.plugin("rspamd", "").name());
            h.plugin("rspamd", "address = \"[::1]:11333\"\nmax_size = \"5MB\"\nreject = \"flag\"\ngreylist = \"off\"").close();
            for (String bad : List.of("address = \"localhost\"", "address = \"a b:1\"", "soft_reject = \"maybe\"",
                    "max_size = \"x\"", "on_error = \"drop\"", "authenticated = \"yes\"", "score_header = \"A:B\"",
                    "milter_headers = \"yes\"", "socket = \"/run/rspamd.sock\"")) {
                var e = assertThrows(PluginSettings.SettingException.class, () -> h.plugin("rspamd", bad), bad);
                assertTrue(e.getMessage().contains("test.toml"), e.getMessage());
            }
        }
    }
}
