package dev.portcullis.plugins.rspamd;

import dev.portcullis.testkit.ServerProcess;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real rspamd (Debian's {@code rspamd} package), started by a test in the foreground on 127.0.0.1 and a
 * free port, as a child process, with a minimal configuration of its own written to the test's folder: one
 * normal worker, no controller, no Redis, no Lua modules (so no maps fetched and no DNS lookups leave the
 * machine: the resolver is a dead loopback port), all state under the folder.
 *
 * What it scores comes from one Lua rule written here, {@link #RULES}, driven by the subject: "score N" adds N
 * points (the thresholds below turn that into each of rspamd's actions), "milter" asks for header edits, "echo"
 * writes the envelope rspamd received into a header. rspamd's built-in GTUBE check gives "reject". Ready once
 * {@code /ping} answers {@code pong}; {@link #close} stops it and its workers.
 */
final class Rspamd implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/bin/rspamd");
    static final Duration START = Duration.ofSeconds(120);

    /** rspamd picks the action of the highest threshold the score reaches. */
    static final String ACTIONS = """
            actions {
              greylist = 4;
              add_header = 6;
              rewrite_subject = 8;
              "soft reject" = 12;
              reject = 15;
            }
            """;

    static final String RULES = """
            -- Portcullis tests: the subject says what rspamd should find
            rspamd_config:register_symbol({
              name = 'PORTCULLIS_TEST_SCORE',
              score = 1.0,
              callback = function(task)
                local subject = task:get_subject() or ''
                local n = subject:match('score (%-?[%d.]+)')
                if n then
                  task:insert_result('PORTCULLIS_TEST_SCORE', tonumber(n), 'subject')
                end
                local reply = nil
                if subject:match('milter') then
                  reply = {add_headers = {['X-Test-Added'] = 'yes'}, remove_headers = {['X-Remove-Me'] = 0}}
                end
                if subject:match('echo') then
                  local function addrs(list)
                    local out = {}
                    for _, a in ipairs(list or {}) do table.insert(out, a.addr) end
                    return table.concat(out, ',')
                  end
                  local ip = task:get_from_ip()
                  local seen = string.format('ip=%s helo=%s from=%s rcpt=%s user=%s queue_id=%s mta=%s',
                    ip and ip:to_string() or '-', task:get_helo() or '-', addrs(task:get_from('smtp')),
                    addrs(task:get_recipients('smtp')), task:get_user() or '-', task:get_queue_id() or '-',
                    task:get_request_header('MTA-Name') and tostring(task:get_request_header('MTA-Name')) or '-')
                  reply = {add_headers = {['X-Rspamd-Envelope'] = seen}}
                end
                if reply then task:set_milter_reply(reply) end
              end
            })
            """;

    final int port;
    private final Path log;
    private final Process process;

    private Rspamd(int port, Path log, Process process) {
        this.port = port;
        this.log = log;
        this.process = process;
    }

    static Rspamd start(Path dir) throws IOException, InterruptedException {
        assertTrue(Files.isExecutable(BINARY), "rspamd missing: apt-get install rspamd (.ci/run does)");
        Files.createDirectories(dir);
        int port = ServerProcess.freePort();
        int deadDns = ServerProcess.freePort();
        Files.writeString(dir.resolve("rules.lua"), RULES, StandardCharsets.UTF_8);
        String d = dir.toAbsolutePath().toString();
        Files.writeString(dir.resolve("rspamd.conf"), """
                options {
                  pidfile = "%1$s/rspamd.pid";
                  tempdir = "%1$s";
                  dns { nameserver = ["127.0.0.1:%3$d"]; timeout = 1s; retransmits = 1; }
                  enable_test_patterns = true;
                  local_addrs = [];
                  hs_cache_dir = "%1$s";
                  cache_file = "%1$s/symbols.cache";
                  history_file = "%1$s/rspamd.history";
                  stats_file = "%1$s/stats.ucl";
                  control_socket = "%1$s/rspamd.sock mode=0600";
                }
                lua = "%1$s/rules.lua";
                logging { type = "console"; level = "info"; }
                %4$s
                worker "normal" { bind_socket = "127.0.0.1:%2$d"; count = 1; }
                """.formatted(d, port, deadDns, ACTIONS), StandardCharsets.UTF_8);
        Path log = dir.resolve("rspamd.log");
        List<String> cmd = new ArrayList<>(List.of(BINARY.toString(), "-f", "-c", d + "/rspamd.conf",
                "--var", "DBDIR=" + d, "--var", "RUNDIR=" + d, "--var", "LOGDIR=" + d));
        if ("root".equals(System.getProperty("user.name"))) cmd.add("-i"); // CI runs as root: let the workers too
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Rspamd rspamd = new Rspamd(port, log, p);
        try {
            rspamd.awaitPong();
        } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
            rspamd.close();
            throw e;
        }
        return rspamd;
    }


    private void awaitPong() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START.toNanos();
        String last = "";
        try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(1)).build()) {
            HttpRequest ping = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ping"))
                    .timeout(Duration.ofSeconds(5)).build();
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) throw new AssertionError("rspamd exited with " + process.exitValue() + ":\n" + log());
                try {
                    HttpResponse<String> r = http.send(ping, HttpResponse.BodyHandlers.ofString());
                    last = r.statusCode() + " " + r.body().strip();
                    if (r.statusCode() == 200 && r.body().strip().equals("pong")) return;
                } catch (IOException notYet) {
                    last = notYet.toString();
                }
                Thread.sleep(250);
            }
        }
        throw new AssertionError("rspamd did not answer /ping within " + START + " (last: " + last + "):\n" + log());
    }

    String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops rspamd (TERM, then KILL) and its workers; waits until they are gone. */
    @Override public void close() {
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            for (ProcessHandle child : children) {
                child.destroy();
                try {
                    child.onExit().get(10, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    child.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            children.forEach(ProcessHandle::destroyForcibly);
            Thread.currentThread().interrupt();
        }
    }
}
