package dev.portcullis.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.config.Config;
import dev.portcullis.config.ConfigException;
import dev.portcullis.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The [outbound] section: typed keys, documented defaults, mistakes named with file and line. */
@Timeout(10)
class OutboundConfigTest {
    @TempDir Path dir;

    Config.Outbound parse(String body) {
        return ConfigLoader.parse("portcullis.toml", "[server]\nhostname = \"mail.example.org\"\n\n[outbound]\n" + body, dir).outbound();
    }

    String error(String body) {
        return assertThrows(ConfigException.class, () -> parse(body)).getMessage();
    }

    @Test void defaults() {
        Config.Outbound o = ConfigLoader.parse("portcullis.toml", "", dir).outbound();
        assertEquals("off", o.mode());
        assertFalse(o.enabled());
        assertEquals(25, o.port());
        assertEquals("opportunistic", o.tls());
        assertEquals("none", o.tlsVerify());
        assertEquals("localhost", o.heloName());
        assertEquals(List.of(Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofMinutes(30), Duration.ofHours(1),
                Duration.ofHours(2), Duration.ofHours(4)), o.retryIntervals());
        assertEquals(Duration.ofDays(5), o.giveUpAfter());
        assertNull(o.delayWarningAfter());
        assertEquals(20, o.maxConnections());
        assertEquals(4, o.maxConnectionsPerDestination());
        assertEquals(0, o.rateMessages());
        assertEquals("mail.example.org", parse("mode = \"mx\"").heloName(), "helo_name defaults to [server] hostname");
    }

    @Test void everySetting() throws Exception {
        Files.writeString(dir.resolve("relay.secret"), "s3cret\n");
        Config.Outbound o = parse("""
                mode = "smarthost"
                smarthost = "relay.isp.example:587"
                smarthost_domains = ["Corp.Example"]
                port = 2525
                tls = "required"
                tls_verify = "verify"
                auth_user = "me@isp.example"
                auth_password_file = "relay.secret"
                helo_name = "out.example.org"
                max_connections = 7
                max_connections_per_destination = 2
                rate_per_destination = "30/m"
                retry_intervals = ["1m", "10m", "1h"]
                give_up_after = "3d"
                delay_warning_after = "4h"
                connect_timeout = "10s"
                command_timeout = "2m"
                data_timeout = "5m"
                address_family = "ipv4"
                """);
        assertEquals("relay.isp.example", o.smarthostHost());
        assertEquals(587, o.smarthostPort());
        assertEquals(List.of("corp.example"), o.smarthostDomains());
        assertTrue(o.viaSmarthost("corp.example"));
        assertFalse(o.viaSmarthost("other.example"));
        assertEquals("s3cret", o.authPassword(), "the file's final newline is not part of the password");
        assertFalse(o.toString().contains("s3cret"), o.toString());
        assertEquals(30, o.rateMessages());
        assertEquals(Duration.ofMinutes(1), o.ratePer());
        assertEquals(List.of(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofHours(1)), o.retryIntervals());
        assertEquals(Duration.ofHours(4), o.delayWarningAfter());
        assertEquals("ipv4", o.addressFamily());
        assertEquals(7, o.maxConnections());
    }

    @Test void smarthostForms() {
        assertEquals(25, parse("smarthost = \"relay.example\"").smarthostPort());
        assertEquals("192.0.2.1", parse("smarthost = \"192.0.2.1:587\"").smarthostHost());
        assertEquals("2001:db8::1", parse("smarthost = \"[2001:db8::1]:587\"").smarthostHost());
        assertEquals("::1", parse("smarthost = \"::1\"").smarthostHost());
        assertTrue(error("smarthost = \"relay.example:99999\"").contains("portcullis.toml:5: outbound.smarthost"));
        assertTrue(error("smarthost = \"[relay.example]:25\"").contains("outbound.smarthost"));
        assertTrue(error("smarthost = \"bad_name!:25\"").contains("outbound.smarthost"));
        assertTrue(error("mode = \"smarthost\"").contains("needs smarthost"));
    }

    @Test void mistakesNameFileAndLine() {
        assertTrue(error("mode = \"mx\"\nmaximum_connections = 3").contains("portcullis.toml:6: unknown setting outbound.maximum_connections"));
        assertTrue(error("mode = \"direct\"").contains("outbound.mode: expected one of off, mx, smarthost"));
        assertTrue(error("port = \"25\"").contains("outbound.port"));
        assertTrue(error("tls = \"maybe\"").contains("outbound.tls"));
        assertTrue(error("retry_intervals = [\"5 minutes\"]").contains("outbound.retry_intervals"));
        assertTrue(error("retry_intervals = []").contains("outbound.retry_intervals"));
        assertTrue(error("rate_per_destination = \"fast\"").contains("outbound.rate_per_destination"));
        assertTrue(error("delay_warning_after = \"6d\"").contains("shorter than give_up_after"));
        assertTrue(error("auth_user = \"u\"").contains("needs auth_password"));
        assertTrue(error("auth_password = \"p\"").contains("needs auth_user"));
        assertTrue(error("auth_user = \"u\"\nauth_password = \"p\"\nauth_password_file = \"f\"").contains("not both"));
        assertTrue(error("auth_user = \"u\"\nauth_password_file = \"missing.secret\"").contains("cannot read"));
        assertTrue(error("helo_name = \"not a name\"").contains("outbound.helo_name"));
        assertTrue(error("max_connections = 0").contains("outbound.max_connections"));
    }

    @Test void theEmbeddedDefaultStillLoads() {
        assertTrue(Config.Outbound.MODES.contains(ConfigLoader.embedded(dir).outbound().mode()));
    }
}
