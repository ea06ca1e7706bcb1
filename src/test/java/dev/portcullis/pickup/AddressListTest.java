package dev.portcullis.pickup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.portcullis.hook.Address;
import java.util.List;
import org.junit.jupiter.api.Test;

class AddressListTest {
    static List<String> parse(String s) throws AddressList.SyntaxException {
        return AddressList.parse(s, "host.test").stream().map(Address::mailbox).toList();
    }

    @Test void theCommonForms() throws Exception {
        assertEquals(List.of("a@b.test"), parse("a@b.test"));
        assertEquals(List.of("a@b.test"), parse(" Name <a@b.test> "));
        assertEquals(List.of("a@b.test", "c@d.test"), parse("\"Quoted, Name\" <a@b.test>, c@d.test"));
        assertEquals(List.of("a@b.test"), parse("John Q. Public <a@b.test>"));
        assertEquals(List.of("a@b.test"), parse("=?UTF-8?B?Wm/Dqw==?= <a@b.test>"));
        assertEquals(List.of("a@b.test", "c@d.test"), parse("a@b.test (Alice, the (nested) one), c@d.test"));
        assertEquals(List.of(), parse("undisclosed-recipients:;"));
        assertEquals(List.of(), parse(""));
        assertEquals(List.of("x@y.test", "z@y.test", "w@v.test"), parse("Team: x@y.test, Zed <z@y.test>;, w@v.test"));
        assertEquals(List.of("a@b.test", "c@d.test"), parse("a@b.test,, ,c@d.test,"));
        assertEquals(List.of("a@b.test"), parse("<@relay.test,@r2.test:a@b.test>"));
        assertEquals(List.of("a@b.test"), parse("Name\r\n <a@b.test>"), "folded");
        assertEquals(List.of("x@y.test"), parse("group: x@y.test"), "missing ';' at the end tolerated");
    }

    @Test void localPartsAreKeptAsWrittenDomainsLowerCased() throws Exception {
        assertEquals(List.of("\"john doe\"@b.test"), parse("\"john doe\"@B.Test"));
        assertEquals(List.of("First.Last+tag@b.test"), parse("First.Last+tag@b.test"));
        assertEquals(List.of("a@[192.0.2.1]"), parse("a@[192.0.2.1]"));
        assertEquals(List.of("josé@bücher.example"), parse("José <josé@Bücher.example>"));
    }

    @Test void bareNamesAreQualified() throws Exception {
        assertEquals(List.of("root@host.test"), parse("root"));
        assertEquals(List.of("root@host.test", "bob@host.test"), parse("root, Bob <bob>"));
        assertThrows(AddressList.SyntaxException.class, () -> AddressList.parse("root", null));
    }

    @Test void theSender() throws Exception {
        assertEquals(Address.NULL_SENDER, AddressList.parseMailbox("<>", "h.test"));
        assertEquals(Address.NULL_SENDER, AddressList.parseMailbox("", "h.test"));
        assertEquals(Address.of("a", "b.test"), AddressList.parseMailbox("<a@b.test>", "h.test"));
        assertEquals(Address.of("a", "h.test"), AddressList.parseMailbox("a", "h.test"));
        assertThrows(AddressList.SyntaxException.class, () -> AddressList.parseMailbox("a@b.test, c@d.test", "h"));
        assertThrows(AddressList.SyntaxException.class, () -> AddressList.parseMailbox("g: a@b.test;", "h"));
    }

    @Test void refusesWhatIsNotAnAddressList() {
        for (String bad : List.of("John Smith", "a b@c.test", "a@", "@b.test", "<a@b.test", "a@b.test>", "\"open",
                "(open comment a@b.test", "a@b..test", ".a@b.test", "a.@b.test", "a..b@c.test", "a@b.test c@d.test",
                "<>", "x: y: z@w.test;;", "g: a@b.test; c@d.test", "a@[1.2.3.4", "a\\b@c.test", "a@b.test;"))
            assertThrows(AddressList.SyntaxException.class, () -> AddressList.parse(bad, "host.test"), bad);
    }
}
