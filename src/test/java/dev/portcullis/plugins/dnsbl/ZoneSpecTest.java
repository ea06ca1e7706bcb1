package dev.portcullis.plugins.dnsbl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The postscreen_dnsbl_sites syntax: zone[=filter[;filter...]][*weight]. */
@Timeout(10)
class ZoneSpecTest {

    static Inet4Address v4(String s) throws Exception { return (Inet4Address) InetAddress.getByName(s); }

    @Test void bareZoneAcceptsAnyAnswerAndHasNoWeight() throws Exception {
        ZoneSpec s = ZoneSpec.parse(" Bl.Example. ");
        assertEquals("bl.example", s.zone(), "lower case, no trailing dot");
        assertNull(s.weight());
        assertEquals(1.0, s.weightOr(1.0));
        assertTrue(s.accepts(v4("127.0.0.2")));
        assertTrue(s.accepts(v4("127.1.2.3")));
    }

    @Test void weightWithoutFilter() {
        ZoneSpec s = ZoneSpec.parse("bl.example*2");
        assertEquals("bl.example", s.zone());
        assertEquals(2.0, s.weight());
        assertEquals(-1.5, ZoneSpec.parse("wl.example*-1.5").weight());
    }

    @Test void lastOctetRangeWithWeight() throws Exception {
        ZoneSpec s = ZoneSpec.parse("zen.example=127.0.0.[2..11]*3");
        assertEquals("zen.example", s.zone());
        assertEquals(3.0, s.weight());
        assertFalse(s.accepts(v4("127.0.0.1")));
        assertTrue(s.accepts(v4("127.0.0.2")));
        assertTrue(s.accepts(v4("127.0.0.11")));
        assertFalse(s.accepts(v4("127.0.0.12")));
        assertFalse(s.accepts(v4("127.0.1.2")));
    }

    @Test void severalFiltersSeparatedBySemicolons() throws Exception {
        ZoneSpec s = ZoneSpec.parse("b.example=127.0.0.2;127.0.0.4");
        assertEquals(2, s.filters().size());
        assertTrue(s.accepts(v4("127.0.0.2")));
        assertFalse(s.accepts(v4("127.0.0.3")));
        assertTrue(s.accepts(v4("127.0.0.4")));
    }

    @Test void bracketListsAndRangesInAnyOctet() throws Exception {
        ZoneSpec s = ZoneSpec.parse("list.example=127.0.[0..255].[2;3];127.0.0.[10;20..21]*-5");
        assertEquals(2, s.filters().size(), "the ; inside brackets does not split filters");
        assertEquals(-5.0, s.weight());
        assertTrue(s.accepts(v4("127.0.7.2")));
        assertTrue(s.accepts(v4("127.0.200.3")));
        assertFalse(s.accepts(v4("127.0.7.1")));
        assertTrue(s.accepts(v4("127.0.0.10")));
        assertTrue(s.accepts(v4("127.0.0.21")));
        assertFalse(s.accepts(v4("127.0.0.19")));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "=127.0.0.2", "bl", "bl..example", "bl.example=", "bl.example*", "bl.example*x", "bl.example=127.0.0",
        "bl.example=127.0.0.256", "bl.example=127.0.0.[5..2]", "bl.example=127.0.0.[2..", "bl.example=127.0.0.[]",
        "bl.example=127.0.0.2.5", "bl.example=10.0.0.2", "bl.example=127.0.0.2;", "bl.example=127.0.0.x",
        "bl.example=127.0.0.[2]]", "bad_zone!.example"})
    void badSyntaxIsRefused(String entry) {
        assertThrows(IllegalArgumentException.class, () -> ZoneSpec.parse(entry), entry);
    }

    @Test void aFilterThatCanNeverMatchSaysWhy() {
        var e = assertThrows(IllegalArgumentException.class, () -> ZoneSpec.parse("bl.example=192.0.2.1"));
        assertTrue(e.getMessage().contains("127.0.0.0/8"), e.getMessage());
    }
}
