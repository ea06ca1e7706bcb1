package dev.portcullis.spf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The parsed-record cache: the same record as a fresh parse, one instance per text, errors never kept, bounded. */
class SpfRecordCacheTest {

    @Test void aCachedRecordIsTheRecordParsedAfresh() throws Exception {
        for (String text : List.of("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.%{d} mx/26//64 -all",
                "v=spf1 include:_spf.example.com ~all", "v=spf1 redirect=_spf.example.org exp=explain.%{d}",
                "v=spf1 ?exists:%{i}.bl.example +ptr unknown=x")) {
            SpfRecord cached = SpfRecord.parseCached(text);
            SpfRecord fresh = SpfRecord.parse(text);
            assertEquals(fresh.redirect(), cached.redirect());
            assertEquals(fresh.exp(), cached.exp());
            assertEquals(fresh.hasAll(), cached.hasAll());
            assertEquals(fresh.directives().size(), cached.directives().size());
            for (int i = 0; i < fresh.directives().size(); i++) {
                SpfRecord.Directive f = fresh.directives().get(i), c = cached.directives().get(i);
                assertEquals(List.of(f.result(), f.kind(), String.valueOf(f.domainSpec()), f.cidr4(), f.cidr6(), f.text()),
                        List.of(c.result(), c.kind(), String.valueOf(c.domainSpec()), c.cidr4(), c.cidr6(), c.text()), text);
                assertTrue(Arrays.equals(f.network(), c.network()), text);
            }
            assertSame(cached, SpfRecord.parseCached(text), "parsed once");
        }
    }

    @Test void aRecordThatDoesNotParseFailsEveryTimeAndIsNotKept() {
        String bad = "v=spf1 ip4:192.0.2.0/33 -all";
        int before = SpfRecord.cachedCount();
        for (int i = 0; i < 3; i++) {
            SpfException e = assertThrows(SpfException.class, () -> SpfRecord.parseCached(bad));
            assertEquals(SpfResult.PERMERROR, e.result());
        }
        assertTrue(SpfRecord.cachedCount() <= before);
    }

    @Test void aLongRecordIsParsedButNotKept() throws Exception {
        StringBuilder text = new StringBuilder("v=spf1");
        for (int i = 0; text.length() <= SpfRecord.CACHED_LENGTH; i++) text.append(" ip4:198.51.100.").append(i % 256);
        String record = text.append(" -all").toString();
        SpfRecord first = SpfRecord.parseCached(record);
        assertTrue(first.hasAll());
        assertTrue(first != SpfRecord.parseCached(record), "parsed afresh each time");
    }

    @Test void theCacheStaysBounded() throws Exception {
        for (int i = 0; i < 3 * SpfRecord.CACHED; i++) {
            SpfRecord.parseCached("v=spf1 ip4:10.0." + (i / 256) + "." + (i % 256) + " -all");
            assertTrue(SpfRecord.cachedCount() <= SpfRecord.CACHED);
        }
    }
}
