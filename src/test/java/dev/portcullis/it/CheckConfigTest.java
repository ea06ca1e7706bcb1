package dev.portcullis.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.Main;
import dev.portcullis.testkit.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The command line, run in-process: {@code Main.run(...)} with System.out and System.err captured. */
@Timeout(30)
class CheckConfigTest {

    @TempDir Path dir;

    record Run(int exit, String out, String err) {
        @Override public String toString() { return "exit " + exit + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err; }
    }

    static synchronized Run main(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.run(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    Path write(String name, String toml) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, toml, StandardCharsets.UTF_8);
        return f;
    }

    @Test
    void goodFileIsAccepted() throws Exception {
        Path file = TestServer.in(dir).section("smtp", "max_message_size = \"1MB\"\ncommand_timeout = \"30s\"").writeConfig();
        Run r = main("check-config", "--config", file.toString());
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().contains("ok: " + file), r::toString);
        assertTrue(r.out().contains("mx.test"), r::toString);
        assertTrue(r.out().contains("example.test"), r::toString);
        assertFalse(Files.exists(dir.resolve("data")), "check-config creates nothing");
    }

    @Test
    void embeddedDefaultIsValid() {
        Run r = main("check-config");
        assertEquals(0, r.exit(), r::toString);
    }

    @Test
    void unknownKeyNamesFileAndLine() throws Exception {
        Path file = write("typo.toml", """
                [server]
                hostname = "mx.test"

                [smtp]
                max_message_size = "1MB"
                max_recipents = 10
                """);
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file + ":6"), "file and line 6 in: " + r);
        assertTrue(r.err().contains("max_recipents"), r::toString);
    }

    @Test
    void wrongTypeNamesFileAndLine() throws Exception {
        Path file = write("type.toml", """
                [server]
                hostname = "mx.test"
                [smtp]
                max_errors = "many"
                """);
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file + ":4"), r::toString);
    }

    @Test
    void tomlSyntaxErrorNamesFileAndLine() throws Exception {
        Path file = write("syntax.toml", "[server]\nhostname = \"mx.test\"\n\n[smtp\nmax_errors = 3\n");
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file + ":4"), r::toString);
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.toml");
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file.toString()), r::toString);
    }

    @Test
    // serve refuses it at Server.start, so check-config must too
    void unknownPluginIsRefusedByCheckConfig() throws Exception {
        Path file = write("plugin.toml", """
                [server]
                hostname = "mx.test"
                [[plugin]]
                name = "rcpt"
                [[plugin]]
                name = "no-such-plugin"
                """);
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file + ":6"), r::toString);
        assertTrue(r.err().contains("no-such-plugin"), r::toString);
    }

    @Test
    // plugin sections are checked by the plugin; check-config must run that check too
    void unknownPluginSettingIsRefusedByCheckConfig() throws Exception {
        Path file = write("plugin-key.toml", """
                [server]
                hostname = "mx.test"
                [[plugin]]
                name = "rcpt"
                [[plugin]]
                name = "relay"
                netwroks = ["10.0.0.0/8"]
                """);
        Run r = main("check-config", "--config", file.toString());
        assertEquals(78, r.exit(), r::toString);
        assertTrue(r.err().contains(file + ":7"), r::toString);
    }

    @Test
    void version() {
        Run r = main("--version");
        assertEquals(0, r.exit(), r::toString);
        assertTrue(r.out().startsWith("portcullis "), r::toString);
    }

    @Test
    void defaultConfigRoundTripsThroughCheckConfig() throws Exception {
        Run printed = main("default-config");
        assertEquals(0, printed.exit(), printed::toString);
        Path file = write("default.toml", printed.out());
        Run r = main("check-config", "--config", file.toString());
        assertEquals(0, r.exit(), r::toString);
    }
}
