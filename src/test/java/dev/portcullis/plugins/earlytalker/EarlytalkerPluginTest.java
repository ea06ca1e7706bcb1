package dev.portcullis.plugins.earlytalker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.ConfigLoader;
import dev.portcullis.hook.Action;
import dev.portcullis.hook.CheckPolicy;
import dev.portcullis.hook.ConnectContext;
import dev.portcullis.hook.DataContext;
import dev.portcullis.hook.DeferredRejection;
import dev.portcullis.hook.HookResult;
import dev.portcullis.plugins.earlytalker.EarlytalkerPlugin.Delays;
import dev.portcullis.testkit.FakeSession;
import dev.portcullis.server.Server;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The earlytalker's decisions with a scripted client (no socket, no real waiting). */
@Timeout(20)
class EarlytalkerPluginTest {

    static final Duration FIVE = Duration.ofSeconds(5);
    static final Delays DELAYS = new Delays(FIVE, -1, Duration.ZERO, 3, Duration.ofSeconds(10));

    static EarlytalkerPlugin plugin(Action action, boolean defer, boolean code421, Duration dataDelay) {
        return new EarlytalkerPlugin(new CheckPolicy("earlytalker", action, 5, defer), DELAYS, dataDelay, Set.of("mx"), code421);
    }

    static EarlytalkerPlugin plugin(Action action) { return plugin(action, false, action == Action.TEMPFAIL, Duration.ZERO); }

    static FakeSession talker() { return new FakeSession("198.51.100.7").talks(d -> true); }

    static FakeSession patient() { return new FakeSession("198.51.100.7").talks(d -> false); }

    static HookResult connect(EarlytalkerPlugin p, FakeSession s) { return p.onConnect(new ConnectContext(s)); }

    @Test
    void talkerIsRefusedWith554AndDisconnected() {
        FakeSession s = talker();
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class, connect(plugin(Action.REJECT), s));
        assertEquals(554, d.reply().code());
        assertEquals("5.5.0", d.reply().enhanced());
        assertTrue(d.disconnect());
        var e = s.trace().entries().getLast();
        assertEquals("earlytalker", e.plugin());
        assertEquals("connect", e.phase());
        assertEquals("reject", e.result());
        assertEquals(5, e.score());
        assertEquals(List.of(FIVE), s.waits);
    }

    @Test
    void replyCode421AndTempfailAnswer421() {
        for (EarlytalkerPlugin p : List.of(plugin(Action.REJECT, false, true, Duration.ZERO), plugin(Action.TEMPFAIL))) {
            HookResult.DenySoft d = assertInstanceOf(HookResult.DenySoft.class, connect(p, talker()));
            assertEquals(421, d.reply().code());
            assertEquals("4.7.0", d.reply().enhanced());
            assertTrue(d.disconnect());
        }
    }

    @Test
    void patientClientPassesAndIsRecorded() {
        FakeSession s = patient();
        assertSame(HookResult.DECLINED, connect(plugin(Action.REJECT), s));
        var e = s.trace().entries().getLast();
        assertEquals("pass", e.result());
        assertEquals(0, s.trace().score());
        assertEquals(List.of(FIVE), s.waits);
    }

    @Test
    void flagLetsTheTalkerInWithItsScore() {
        FakeSession s = talker();
        assertSame(HookResult.DECLINED, connect(plugin(Action.FLAG), s));
        assertEquals("flag", s.trace().entries().getLast().result());
        assertEquals(5, s.trace().score());
    }

    @Test
    void deferToRcptIsPostscreensEnforce() {
        FakeSession s = talker();
        assertSame(HookResult.DECLINED, connect(plugin(Action.REJECT, true, false, Duration.ZERO), s));
        DeferredRejection d = s.notes().get(DeferredRejection.KEY).orElseThrow();
        assertEquals("earlytalker", d.check());
        assertEquals(554, d.reply().code());
    }

    @Test
    void offAndExemptClientsAreNotMadeToWait() {
        FakeSession off = talker();
        assertSame(HookResult.DECLINED, connect(plugin(Action.OFF), off));
        assertTrue(off.waits.isEmpty());
        assertTrue(off.trace().entries().isEmpty());

        FakeSession vouched = talker();
        vouched.notes().put(CheckPolicy.ALLOWLISTED, "list.dnswl.example");
        for (FakeSession s : List.of(talker().relay(true), talker().allow(true), talker().role("submission"), vouched)) {
            assertSame(HookResult.DECLINED, connect(plugin(Action.REJECT), s));
            assertTrue(s.waits.isEmpty(), "no wait for " + s);
            assertTrue(s.trace().entries().isEmpty());
        }
    }

    @Test
    void waitFollowsTheScoreSoFar() {
        assertEquals(FIVE, DELAYS.forScore(0));
        assertEquals(FIVE, DELAYS.forScore(2.5));
        assertEquals(Duration.ofSeconds(10), DELAYS.forScore(3));
        assertEquals(Duration.ZERO, DELAYS.forScore(-1));

        FakeSession listed = patient();
        listed.trace().add("dnsbl", "connect", "flag", 4, "listed");
        connect(plugin(Action.REJECT), listed);
        assertEquals(List.of(Duration.ofSeconds(10)), listed.waits);

        FakeSession known = patient();
        known.trace().add("karma", "connect", "pass", -2, "good history");
        connect(plugin(Action.REJECT), known);
        assertEquals(List.of(Duration.ZERO), known.waits);
    }

    @Test
    void dataDelayCatchesContentBeforeThe354() {
        EarlytalkerPlugin p = plugin(Action.REJECT, false, false, Duration.ofSeconds(1));
        FakeSession s = talker();
        HookResult.Deny d = assertInstanceOf(HookResult.Deny.class, p.onData(new DataContext(s, null, false)));
        assertEquals(554, d.reply().code());
        assertTrue(d.disconnect(), "what follows is content, not commands: close");
        assertEquals("data", s.trace().entries().getLast().phase());

        FakeSession calm = patient();
        assertSame(HookResult.DECLINED, p.onData(new DataContext(calm, null, false)));
        assertEquals(List.of(Duration.ofSeconds(1)), calm.waits);

        FakeSession none = talker();
        assertSame(HookResult.DECLINED, plugin(Action.REJECT).onData(new DataContext(none, null, false)));
        assertTrue(none.waits.isEmpty(), "data_delay 0 does not wait");
    }

    @Test
    void badSettingsStopStartUp(@TempDir Path dir) {
        for (String settings : List.of("reply_code = 550", "good_score = 5", "action = \"maybe\"", "roles = [\"pop3\"]", "delay = 5")) {
            String toml = "[server]\nhostname = \"mx.test\"\ndata_dir = \"data\"\n[[plugin]]\nname = \"earlytalker\"\n" + settings + "\n";
            RuntimeException e = assertThrows(RuntimeException.class,
                    () -> Server.checkPlugins(ConfigLoader.parse("test.toml", toml, dir)), settings);
            String key = settings.substring(0, settings.indexOf(' '));
            assertTrue(e.getMessage().contains(key), e.getMessage());
        }
        String good = "[server]\nhostname = \"mx.test\"\ndata_dir = \"data\"\n[[plugin]]\nname = \"earlytalker\"\n"
                + "delay = \"300ms\"\nreply_code = 421\ndata_delay = \"1s\"\ngood_score = -2\ngood_delay = \"0s\"\n"
                + "bad_score = 4\nbad_delay = \"1s\"\nscore = 2\naction = \"flag\"\ndefer_to_rcpt = false\nroles = [\"mx\", \"submission\"]\n";
        assertEquals(List.of("earlytalker"), Server.checkPlugins(ConfigLoader.parse("test.toml", good, dir)));
    }
}
