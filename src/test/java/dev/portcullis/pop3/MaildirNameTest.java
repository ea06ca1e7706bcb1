package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MaildirNameTest {
    @Test void uniquePartAndFlags() {
        MaildirName n = MaildirName.parse("1700000000.M12P3Q4.mx\\072test:2,FS");
        assertEquals("1700000000.M12P3Q4.mx\\072test", n.unique());
        assertEquals("FS", n.flags());
        assertTrue(n.hasFlag('S'));
        MaildirName fresh = MaildirName.parse("1700000000.M12P3Q4.host");
        assertNull(fresh.flags());
        assertFalse(fresh.hasFlag('S'));
    }

    @Test void addingAFlagKeepsAsciiOrder() {
        assertEquals("u:2,S", MaildirName.parse("u").withFlag('S'));
        assertEquals("u:2,FRST", MaildirName.parse("u:2,TRF").withFlag('S'));
        assertEquals("u:2,Sa", MaildirName.parse("u:2,a").withFlag('S'), "Dovecot keywords (lower case) come after");
        assertEquals("u:2,S", MaildirName.parse("u:2,S").withFlag('S'));
    }

    @Test void uidlIsTheUniquePartWhenValidElseADigest() {
        assertEquals("1700000000.M1P2Q3.host", MaildirName.parse("1700000000.M1P2Q3.host:2,S").uidl());
        String longName = "1700000000.M1P2Q3." + "h".repeat(80);
        String uidl = MaildirName.parse(longName).uidl();
        assertTrue(uidl.startsWith("sha256-") && uidl.length() <= 70, uidl);
        assertEquals(uidl, MaildirName.parse(longName + ":2,S").uidl(), "stable when flags change");
        assertTrue(MaildirName.parse("with space").uidl().startsWith("sha256-"), "RFC 1939 7: 0x21 to 0x7E only");
    }

    @Test void deliveryOrderUsesSecondsThenMicroseconds() {
        List<MaildirName> names = new ArrayList<>(List.of(
                MaildirName.parse("1700000001.M5P1Q1.h"),
                MaildirName.parse("other-name"),
                MaildirName.parse("1700000000.M999999P1Q1.h"),
                MaildirName.parse("1700000001.M40P1Q2.h:2,S"),
                MaildirName.parse("999999999.M1P1Q1.h")));
        names.sort(MaildirName::compareByDelivery);
        assertEquals(List.of("999999999.M1P1Q1.h", "1700000000.M999999P1Q1.h", "1700000001.M5P1Q1.h", "1700000001.M40P1Q2.h",
                "other-name"), names.stream().map(MaildirName::unique).toList());
    }
}
