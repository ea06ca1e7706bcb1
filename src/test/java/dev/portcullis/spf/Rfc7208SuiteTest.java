package dev.portcullis.spf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.portcullis.dns.DnsjavaClient;
import dev.portcullis.testkit.TestDns;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.xbill.DNS.DClass;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The RFC 7208 test suite (pyspf's rfc7208-tests.yml, in shared/testdata) run against {@link SpfEvaluator}
 * over real DNS: each document's zonedata is served by one in-process {@link TestDns}, cleared between cases,
 * and each case gets a fresh resolver (the client caches). Every case is a dynamic test named
 * "document / case"; a last test checks that as many cases ran as the file holds, counted from the text
 * independently of the YAML parser, so a parsing slip cannot skip cases silently.
 *
 * <p>Zone data follows the suite's driver conventions: an SPF entry is served as type SPF and also as TXT
 * unless the name has a TXT entry of its own ("TXT: NONE" means: no TXT, and none made from SPF); a TXT value
 * that is a list is one record of several strings; "TIMEOUT" makes a query time out unless a record of the
 * asked type is listed before it (TXT made from SPF count as listed after everything).
 */
@Timeout(120)
class Rfc7208SuiteTest {
    private static final Path SUITE = Path.of("shared", "testdata", "spf", "rfc7208-tests.yml");
    private static final int TTL = 300;

    /**
     * Explanations compared without regard to case, each with its reason. The suite writes the %{i} nibbles
     * of an IPv6 address in upper case; RFC 7208 7.4 writes them in lower case, as this evaluator does (DNS
     * names ignore case, so only explanation text can tell).
     */
    private static final Map<String, String> CASE_INSENSITIVE_EXPLANATION = Map.of(
            "v-macro-ip6", "the suite's %{i} nibbles are upper case, RFC 7208 7.4's lower case");

    private static TestDns dns;
    private static final AtomicInteger ran = new AtomicInteger();

    @BeforeAll static void start() throws IOException { dns = new TestDns(); }

    @AfterAll static void stop() { if (dns != null) dns.close(); }

    @TestFactory Stream<DynamicTest> rfc7208() throws IOException {
        Path file = locate();
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int expected = countCasesInText(text);
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false); // a duplicated case name would otherwise hide a case
        List<DynamicTest> tests = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        for (Object doc : new Yaml(options).loadAll(text)) {
            Map<?, ?> document = (Map<?, ?>) doc;
            String description = String.valueOf(document.get("description"));
            Map<?, ?> zone = (Map<?, ?>) document.get("zonedata");
            Map<?, ?> cases = (Map<?, ?>) document.get("tests");
            for (Map.Entry<?, ?> c : cases.entrySet()) {
                String name = description + " / " + c.getKey();
                assertTrue(names.add(name), "duplicate case " + name);
                Map<?, ?> spec = (Map<?, ?>) c.getValue();
                tests.add(DynamicTest.dynamicTest(name, () -> run(name, String.valueOf(c.getKey()), zone, spec)));
            }
        }
        assertEquals(expected, tests.size(), "cases parsed versus cases counted in the text of " + file);
        tests.add(DynamicTest.dynamicTest("every case ran", () -> {
            assertEquals(expected, ran.get(), "cases run");
            assertEquals(203, expected, "the RFC 7208 suite (release 2014.04) has 203 cases");
        }));
        return tests.stream();
    }

    /** Runs one case; {@code name} (document / case) starts every failure message, as reports number dynamic tests. */
    private static void run(String name, String caseName, Map<?, ?> zone, Map<?, ?> spec) throws Exception {
        ran.incrementAndGet();
        dns.clear();
        serve(zone);
        DnsjavaClient client = new DnsjavaClient(List.of(dns.address()), Duration.ofMillis(300), 0, true);
        SpfEvaluator spf = new SpfEvaluator(client, "receiver.example.net");
        InetAddress host = InetAddress.getByName(String.valueOf(spec.get("host"))); // literals only: no lookup
        String mailFrom = String.valueOf(spec.get("mailfrom"));
        String helo = String.valueOf(spec.get("helo"));

        SpfVerdict v = spf.check(host, mailFrom, helo);

        Object want = spec.get("result");
        List<String> allowed = want instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of(String.valueOf(want));
        if (!allowed.contains(v.result().headerName())) {
            fail(name + ": expected " + allowed + " but was " + v.result().headerName() + " (" + v.reason() + ")\nDNS queries: " + dns.queryLog());
        }
        if (spec.containsKey("explanation")) {
            String exp = String.valueOf(spec.get("explanation"));
            if (exp.equals("DEFAULT")) {
                assertNull(v.explanation(), name + ": no explanation of the domain's own: the caller's default applies");
            } else if (CASE_INSENSITIVE_EXPLANATION.containsKey(caseName)) {
                assertEquals(exp.toLowerCase(Locale.ROOT), String.valueOf(v.explanation()).toLowerCase(Locale.ROOT),
                        name + ": " + CASE_INSENSITIVE_EXPLANATION.get(caseName));
            } else {
                assertEquals(exp, v.explanation(), name + ": explanation");
            }
        }
    }

    // ---- zone data ----

    private static void serve(Map<?, ?> zone) throws IOException {
        for (Map.Entry<?, ?> e : zone.entrySet()) {
            String owner = String.valueOf(e.getKey());
            Name name = name(owner);
            List<?> entries = (List<?>) e.getValue();
            boolean ownTxt = entries.stream().anyMatch(x -> x instanceof Map<?, ?> m && m.containsKey("TXT"));
            List<Object> fromSpf = new ArrayList<>();
            Set<Integer> beforeTimeout = new LinkedHashSet<>();
            boolean timeout = false;
            for (Object entry : entries) {
                if ("TIMEOUT".equals(entry)) {
                    timeout = true;
                    break;
                }
                Map<?, ?> m = (Map<?, ?>) entry;
                for (Map.Entry<?, ?> r : m.entrySet()) {
                    String type = String.valueOf(r.getKey());
                    Object value = r.getValue();
                    if ("NONE".equals(value)) continue;
                    beforeTimeout.add(Type.value(type));
                }
            }
            for (Object entry : entries) {
                if ("TIMEOUT".equals(entry)) continue;
                for (Map.Entry<?, ?> r : ((Map<?, ?>) entry).entrySet()) {
                    String type = String.valueOf(r.getKey());
                    Object value = r.getValue();
                    if ("NONE".equals(value)) continue;
                    switch (type) {
                        case "A" -> dns.a(owner, String.valueOf(value));
                        case "AAAA" -> dns.aaaa(owner, String.valueOf(value));
                        case "CNAME" -> dns.cname(owner, String.valueOf(value));
                        case "PTR" -> dns.add(new PTRRecord(name, DClass.IN, TTL, name(String.valueOf(value))));
                        case "MX" -> {
                            List<?> mx = (List<?>) value;
                            dns.add(new MXRecord(name, DClass.IN, TTL, ((Number) mx.get(0)).intValue(), name(String.valueOf(mx.get(1)))));
                        }
                        case "TXT" -> dns.add(text(name, Type.TXT, value));
                        case "SPF" -> {
                            dns.add(text(name, Type.SPF, value));
                            if (!ownTxt) fromSpf.add(value);
                        }
                        default -> throw new IllegalArgumentException("record type " + type + " in zonedata of " + owner);
                    }
                }
            }
            for (Object value : fromSpf) dns.add(text(name, Type.TXT, value));
            if (timeout) {
                if (beforeTimeout.isEmpty()) {
                    dns.timeout(owner);
                } else {
                    for (int t : new int[] {Type.A, Type.AAAA, Type.MX, Type.PTR, Type.TXT, Type.SPF, Type.CNAME}) {
                        if (!beforeTimeout.contains(t)) dns.timeout(owner, t);
                    }
                }
            }
        }
    }

    /**
     * A TXT or SPF record from a string (one string of the record) or a list (several strings, possibly none),
     * built from the octets: the suite's "\xEF"-style escapes are octets, and the record must carry them as
     * they are (dnsjava's string constructor would re-encode them as UTF-8 and interpret backslashes).
     */
    private static Record text(Name name, int type, Object value) {
        List<String> strings = value instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of(String.valueOf(value));
        ByteArrayOutputStream rdata = new ByteArrayOutputStream();
        for (String s : strings) {
            byte[] octets = octets(s);
            for (int i = 0; i < octets.length || i == 0; i += 255) {
                int n = Math.min(255, octets.length - i);
                rdata.write(n);
                rdata.write(octets, i, n);
            }
        }
        byte[] data = rdata.toByteArray();
        return Record.newRecord(name, type, DClass.IN, TTL, data.length, data);
    }

    private static byte[] octets(String s) {
        boolean latin1 = s.chars().allMatch(c -> c <= 0xff);
        return s.getBytes(latin1 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
    }

    private static Name name(String s) throws TextParseException {
        return Name.fromString(s.endsWith(".") ? s : s + ".");
    }

    // ---- the file ----

    /** The suite lives in shared/ beside the clone: ../shared/... from the Maven basedir. */
    private static Path locate() {
        List<Path> tried = new ArrayList<>();
        for (String base : new String[] {System.getProperty("basedir"), System.getProperty("user.dir"), "."}) {
            if (base == null) continue;
            for (Path dir = Path.of(base).toAbsolutePath().normalize(); dir != null; dir = dir.getParent()) {
                Path candidate = dir.resolve(SUITE);
                tried.add(candidate);
                if (Files.isRegularFile(candidate)) return candidate;
            }
        }
        throw new AssertionError("RFC 7208 test suite not found; tried " + tried);
    }

    /**
     * Counts cases from the raw text: in each document (after "---"), the keys indented by exactly two spaces
     * under the top-level "tests:" key.
     */
    static int countCasesInText(String text) {
        int count = 0;
        boolean inTests = false;
        for (String line : text.split("\r?\n")) {
            if (line.startsWith("---")) {
                inTests = false;
            } else if (!line.isEmpty() && !line.startsWith(" ") && !line.startsWith("#")) {
                inTests = line.startsWith("tests:");
            } else if (inTests && line.matches("  [^ #][^:]*:\\s*")) {
                count++;
            }
        }
        return count;
    }
}
