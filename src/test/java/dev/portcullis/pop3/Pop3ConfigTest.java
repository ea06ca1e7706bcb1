package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.config.ConfigLoader;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The [pop3] section, the pop3/pop3s listener roles and the embedded default's POP3 listeners. */
class Pop3ConfigTest {
    @TempDir Path dir;

    Config parse(String toml) { return ConfigLoader.parse("test.toml", toml, dir); }

    @Test void defaultsAreLoopbackOnlyPlaintextAndTenMinutes() {
        Config c = parse("");
        assertEquals(Config.Pop3.Plaintext.LOOPBACK, c.pop3().plaintext());
        assertEquals(Duration.ofMinutes(10), c.pop3().timeout(), "RFC 1939 section 3: at least 10 minutes");
        assertEquals(Config.Pop3.DEFAULT, c.pop3());
    }

    @Test void settingsAreRead() {
        Config c = parse("[pop3]\nplaintext = \"Never\"\ntimeout = \"15m\"\n");
        assertEquals(new Config.Pop3(Config.Pop3.Plaintext.NEVER, Duration.ofMinutes(15)), c.pop3());
        assertEquals(Config.Pop3.Plaintext.ALWAYS, parse("[pop3]\nplaintext = \"always\"\n").pop3().plaintext());
    }

    @Test void mistakesNameTheFileAndLine() {
        ConfigException typo = assertThrows(ConfigException.class, () -> parse("[pop3]\nplaintext = \"never\"\ntimout = \"5m\"\n"));
        assertTrue(typo.getMessage().startsWith("test.toml:3: ") && typo.getMessage().contains("unknown setting pop3.timout"),
                typo.getMessage());
        ConfigException choice = assertThrows(ConfigException.class, () -> parse("[pop3]\n\nplaintext = \"sometimes\"\n"));
        assertTrue(choice.getMessage().startsWith("test.toml:3: ") && choice.getMessage().contains("loopback, never, always"),
                choice.getMessage());
        ConfigException zero = assertThrows(ConfigException.class, () -> parse("[pop3]\ntimeout = \"0s\"\n"));
        assertTrue(zero.getMessage().startsWith("test.toml:2: "), zero.getMessage());
    }

    @Test void pop3AndPop3sAreListenerRoles() {
        Config c = parse("[[listener]]\nport = 110\nrole = \"pop3\"\n[[listener]]\nport = 995\nrole = \"pop3s\"\n");
        assertEquals("pop3", c.listeners().get(0).role());
        assertEquals("pop3s", c.listeners().get(1).role());
        assertTrue(Pop3Listener.ROLES.containsAll(java.util.List.of("pop3", "pop3s")));
        assertTrue(Config.Listener.ROLES.containsAll(Pop3Listener.ROLES));
    }

    @Test void theEmbeddedDefaultListensForPop3OnLoopback() {
        Config c = ConfigLoader.embedded(dir);
        assertTrue(c.listeners().contains(new Config.Listener("127.0.0.1", 2110, "pop3")), c.listeners().toString());
        assertTrue(c.listeners().contains(new Config.Listener("127.0.0.1", 2995, "pop3s")), c.listeners().toString());
        assertEquals(Config.Pop3.DEFAULT, c.pop3());
    }
}
