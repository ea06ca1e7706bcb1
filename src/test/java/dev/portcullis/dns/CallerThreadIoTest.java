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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.BiFunction;
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
            answerQueries(server, 1, (n, q) -> List.of(answer(q, q.getHeader().getID() ^ 0x5a5a, "198.51.100.66"),
                    answer(q, q.getHeader().getID(), "192.0.2.1")));
            Message q = query("host.test.", Type.A);
            var to = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
            Message answer = new Message(io.sendAndReceiveUdp(null, to, q, q.toWire(), 512, Duration.ofSeconds(5)).get());
            assertEquals(q.getHeader().getID(), answer.getHeader().getID());
            assertEquals("192.0.2.1", ((ARecord) answer.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress());
        }
    }

    private static Message answer(Message q, int id, String address) {
        Message r = new Message(id);
        r.getHeader().setFlag(Flags.QR);
        r.addRecord(q.getQuestion(), Section.QUESTION);
        try {
            r.addRecord(new ARecord(q.getQuestion().getName(), DClass.IN, 60, InetAddress.getByName(address)), Section.ANSWER);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);   // a literal
        }
        return r;
    }

    /**
     * A DNS server of the test's own on {@code server}: each of the first {@code count} queries gets the
     * answers {@code replies} gives for it (its number from 0, the query), none when the list is empty.
     * Returns each query's source port.
     */
    private static AtomicIntegerArray answerQueries(DatagramSocket server, int count,
            BiFunction<Integer, Message, List<Message>> replies) {
        var ports = new AtomicIntegerArray(count);
        Thread.ofVirtual().start(() -> {
            try {
                for (int n = 0; n < count; n++) {
                    byte[] buf = new byte[512];
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    server.receive(p);
                    ports.set(n, p.getPort());
                    for (Message r : replies.apply(n, new Message(Arrays.copyOf(buf, p.getLength())))) {
                        byte[] wire = r.toWire();
                        server.send(new DatagramPacket(wire, wire.length, p.getSocketAddress()));
                    }
                }
            } catch (Exception ignored) {
                // the test fails on its own
            }
        });
        return ports;
    }

    @Test void aLoopbackServersSocketIsUsedAgainAndALateDuplicateAnswerOnItIsIgnored() throws Exception {
        try (DatagramSocket server = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            // the first answer twice: a retransmitted duplicate that arrives after its query is done
            var ports = answerQueries(server, 2, (n, q) -> n == 0
                    ? List.of(answer(q, q.getHeader().getID(), "192.0.2.1"), answer(q, q.getHeader().getID(), "192.0.2.1"))
                    : List.of(answer(q, q.getHeader().getID(), "192.0.2.2")));
            var to = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
            Message first = query("one.test.", Type.A);
            Message second = query("two.test.", Type.A);
            while (second.getHeader().getID() == first.getHeader().getID()) second = query("two.test.", Type.A);

            Message a1 = new Message(io.sendAndReceiveUdp(null, to, first, first.toWire(), 512, Duration.ofSeconds(5)).get());
            Message a2 = new Message(io.sendAndReceiveUdp(null, to, second, second.toWire(), 512, Duration.ofSeconds(5)).get());

            assertEquals(ports.get(0), ports.get(1), "the second query went out on the first one's socket");
            assertEquals("192.0.2.1", ((ARecord) a1.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress());
            assertEquals(second.getHeader().getID(), a2.getHeader().getID(), "the duplicate of the first answer was skipped");
            assertEquals("192.0.2.2", ((ARecord) a2.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress());
        }
    }

    @Test void aSocketWhoseQueryTimedOutIsNotUsedAgain() throws Exception {
        try (DatagramSocket server = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            // the first query is never answered
            var ports = answerQueries(server, 2, (n, q) -> n == 0 ? List.of() : List.of(answer(q, q.getHeader().getID(), "192.0.2.3")));
            var to = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
            Message lost = query("lost.test.", Type.A);
            var f = io.sendAndReceiveUdp(null, to, lost, lost.toWire(), 512, Duration.ofMillis(200));
            org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, f::get);
            Message q = query("next.test.", Type.A);
            Message a = new Message(io.sendAndReceiveUdp(null, to, q, q.toWire(), 512, Duration.ofSeconds(5)).get());

            assertEquals("192.0.2.3", ((ARecord) a.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress());
            assertTrue(ports.get(0) != ports.get(1), "a fresh socket (port) after the timeout: " + ports.get(0));
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
