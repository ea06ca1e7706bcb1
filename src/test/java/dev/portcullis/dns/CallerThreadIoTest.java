package dev.portcullis.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestDns;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/** The transport under the resolver: UDP with id matching, TCP framing, deadlines. */
@Timeout(20)
class CallerThreadIoTest {
    private final CallerThreadIo io = new CallerThreadIo();

    private static Message query(String name, int type) throws Exception {
        return Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN));
    }

    @Test void udpQueryAndTcpQueryGetTheSameAnswer() throws Exception {
        try (TestDns dns = new TestDns()) {
            String big = "v=spf1 " + "include:a-rather-long-name.example.test ".repeat(40) + "-all";
            dns.txt("big.test", big);
            Message q = query("big.test.", Type.TXT);
            byte[] tcp = io.sendAndReceiveTcp(null, dns.address(), q, q.toWire(), Duration.ofSeconds(5)).get();
            Message answer = new Message(tcp);
            assertEquals(q.getHeader().getID(), answer.getHeader().getID());
            TXTRecord txt = (TXTRecord) answer.getSection(Section.ANSWER).getFirst();
            assertEquals(big, String.join("", txt.getStrings()), "a message over 512 octets, whole over TCP");

            byte[] udp = io.sendAndReceiveUdp(null, dns.address(), q, q.toWire(), 512, Duration.ofSeconds(5)).get();
            assertTrue(new Message(udp).getHeader().getFlag(Flags.TC), "without EDNS the UDP answer is truncated");
        }
    }

    @Test void aDatagramWithAnotherIdIsIgnoredAndTheRightOneTaken() throws Exception {
        try (DatagramSocket server = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            Thread.ofVirtual().start(() -> {
                try {
                    byte[] buf = new byte[512];
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    server.receive(p);
                    Message q = new Message(java.util.Arrays.copyOf(buf, p.getLength()));
                    for (int id : new int[] {q.getHeader().getID() ^ 0x5a5a, q.getHeader().getID()}) {
                        Message r = new Message(id);
                        r.getHeader().setFlag(Flags.QR);
                        r.addRecord(q.getQuestion(), Section.QUESTION);
                        r.addRecord(new ARecord(q.getQuestion().getName(), DClass.IN, 60,
                                InetAddress.getByName(id == q.getHeader().getID() ? "192.0.2.1" : "198.51.100.66")), Section.ANSWER);
                        byte[] wire = r.toWire();
                        server.send(new DatagramPacket(wire, wire.length, p.getSocketAddress()));
                    }
                } catch (Exception ignored) {
                    // the test fails on its own
                }
            });
            Message q = query("host.test.", Type.A);
            var to = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
            Message answer = new Message(io.sendAndReceiveUdp(null, to, q, q.toWire(), 512, Duration.ofSeconds(5)).get());
            assertEquals(q.getHeader().getID(), answer.getHeader().getID());
            assertEquals("192.0.2.1", ((ARecord) answer.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress());
        }
    }

    @Test void noAnswerByTheDeadlineIsATimeout() throws Exception {
        try (TestDns dns = new TestDns()) {
            dns.timeout("silent.test");
            Message q = query("silent.test.", Type.A);
            var f = io.sendAndReceiveUdp(null, dns.address(), q, q.toWire(), 512, Duration.ofMillis(200));
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, f::get);
            assertInstanceOf(SocketTimeoutException.class, e.getCause());
        }
    }
}
