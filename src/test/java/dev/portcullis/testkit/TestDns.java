package dev.portcullis.testkit;

import dev.portcullis.dns.DnsjavaClient;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * An authoritative DNS server on 127.0.0.1 (UDP and TCP, same port) serving exactly the records a test
 * declares: the real wire protocol, so the server's resolver code runs as in production.
 * Names that are declared nowhere answer NXDOMAIN; names that exist without the asked type answer NODATA;
 * {@link #timeout} names never answer; {@link #servfail} names answer SERVFAIL. CNAMEs are followed.
 * {@link #hold} keeps the answers for a name back until {@link #release}: a test can see which queries a
 * server has in flight at the same time (they all arrive while none is answered), without timing anything.
 */
public final class TestDns implements AutoCloseable {
    private final Map<Name, List<Record>> records = new ConcurrentHashMap<>();
    private final Set<Name> timeouts = ConcurrentHashMap.newKeySet();
    private final Set<TypedName> typeTimeouts = ConcurrentHashMap.newKeySet();
    private final Set<Name> servfails = ConcurrentHashMap.newKeySet();
    private final Map<TypedName, CountDownLatch> holds = new ConcurrentHashMap<>();
    /** A hold on every type of a name. */
    private static final int ANY_TYPE = -1;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final AtomicInteger queries = new AtomicInteger();
    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private volatile long ttl = 300;

    public TestDns() throws IOException {
        DatagramSocket u = null;
        ServerSocket t = null;
        for (int attempt = 0; attempt < 20 && t == null; attempt++) {
            u = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            try {
                t = new ServerSocket(u.getLocalPort(), 50, InetAddress.getLoopbackAddress());
            } catch (IOException busy) {
                u.close();
            }
        }
        if (t == null) throw new IOException("no free port for UDP and TCP");
        udp = u;
        tcp = t;
        Thread.ofPlatform().daemon().name("test-dns-udp").start(this::serveUdp);
        Thread.ofPlatform().daemon().name("test-dns-tcp").start(this::serveTcp);
    }

    public InetSocketAddress address() { return new InetSocketAddress(InetAddress.getLoopbackAddress(), udp.getLocalPort()); }

    /** The body of a server's [dns] section pointing at this server (see {@link TestServer.Builder#dns}). */
    public String settingsToml() {
        return "servers = [\"127.0.0.1:" + udp.getLocalPort() + "\"]\ntimeout = \"500ms\"\nretries = 0\n";
    }

    /** A client of this server with a short timeout, for plugin unit tests. */
    public DnsjavaClient client() {
        return new DnsjavaClient(List.of(address()), Duration.ofMillis(500), 0, true);
    }

    public TestDns ttl(long seconds) { ttl = seconds; return this; }

    public TestDns a(String name, String... addresses) {
        for (String a : addresses) add(new ARecord(name(name), DClass.IN, ttl, ip(a)));
        return this;
    }

    public TestDns aaaa(String name, String... addresses) {
        for (String a : addresses) add(new AAAARecord(name(name), DClass.IN, ttl, ip(a)));
        return this;
    }

    /** One TXT record per text; texts over 255 octets are split into several strings of one record. */
    public TestDns txt(String name, String... texts) {
        for (String text : texts) {
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < text.length(); i += 255) parts.add(text.substring(i, Math.min(text.length(), i + 255)));
            if (parts.isEmpty()) parts.add("");
            add(new TXTRecord(name(name), DClass.IN, ttl, parts));
        }
        return this;
    }

    public TestDns mx(String name, int preference, String host) {
        add(new MXRecord(name(name), DClass.IN, ttl, preference, name(host)));
        return this;
    }

    public TestDns ptr(String address, String... names) {
        for (String n : names) add(new PTRRecord(ReverseMap.fromAddress(ip(address)), DClass.IN, ttl, name(n)));
        return this;
    }

    public TestDns cname(String name, String target) {
        add(new CNAMERecord(name(name), DClass.IN, ttl, name(target)));
        return this;
    }

    /** Queries for this name (any type) are never answered. */
    public TestDns timeout(String name) { timeouts.add(name(name)); return this; }

    public TestDns servfail(String name) { servfails.add(name(name)); return this; }

    /**
     * Queries for this name and this type ({@link Type}, e.g. {@code Type.TXT}) are never answered; other types
     * answer as declared (a server that times out on one type only, as the RFC 7208 test suite describes).
     */
    public TestDns timeout(String name, int type) { typeTimeouts.add(new TypedName(name(name), type)); return this; }

    /**
     * Queries for this name (any type) are received and logged, but their answers wait until {@link #release}
     * (at most 30 s). Queries for other names are answered meanwhile.
     */
    public TestDns hold(String name) { return hold(name, ANY_TYPE); }

    /** As {@link #hold(String)}, for queries of one type ({@link Type}) only. */
    public TestDns hold(String name, int type) {
        holds.putIfAbsent(new TypedName(name(name), type), new CountDownLatch(1));
        return this;
    }

    /** Sends the answers held for this name (every type) and stops holding it. */
    public TestDns release(String name) {
        Name n = name(name);
        holds.entrySet().removeIf(e -> {
            if (!e.getKey().name().equals(n)) return false;
            e.getValue().countDown();
            return true;
        });
        return this;
    }

    /** Waits until every query given ("TYPE name.", as in {@link #queryLog}) has been received; false after {@code wait}. */
    public boolean awaitQueries(Duration wait, String... queries) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (!log.containsAll(List.of(queries))) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(5);
        }
        return true;
    }

    public TestDns clear() {
        records.clear();
        timeouts.clear();
        typeTimeouts.clear();
        servfails.clear();
        return this;
    }

    /** Queries received so far ("TYPE name"), oldest first. */
    public List<String> queryLog() { return List.copyOf(log); }

    public int queryCount() { return queries.get(); }

    public void add(Record r) { records.computeIfAbsent(r.getName(), k -> new CopyOnWriteArrayList<>()).add(r); }

    // ---- serving ----

    private byte[] answer(byte[] query) {
        Message q;
        try {
            q = new Message(query);
        } catch (IOException e) {
            return null;
        }
        Record question = q.getQuestion();
        queries.incrementAndGet();
        if (question == null) return null;
        log.add(Type.string(question.getType()) + " " + question.getName());
        Message r = new Message(q.getHeader().getID());
        Header h = r.getHeader();
        h.setFlag(Flags.QR);
        h.setFlag(Flags.AA);
        if (q.getHeader().getFlag(Flags.RD)) h.setFlag(Flags.RD);
        h.setFlag(Flags.RA);
        r.addRecord(question, Section.QUESTION);
        Name name = question.getName();
        int type = question.getType();
        for (int hops = 0; hops < 10; hops++) {
            if (timeouts.contains(name) || typeTimeouts.contains(new TypedName(name, type))) return null;
            if (servfails.contains(name)) {
                h.setRcode(Rcode.SERVFAIL);
                return r.toWire();
            }
            List<Record> here = records.getOrDefault(name, List.of());
            Record cname = here.stream().filter(x -> x.getType() == Type.CNAME).findFirst().orElse(null);
            if (cname != null && type != Type.CNAME) {
                r.addRecord(cname, Section.ANSWER);
                name = ((CNAMERecord) cname).getTarget();
                continue;
            }
            boolean any = false;
            for (Record x : here) if (x.getType() == type || type == Type.ANY) { r.addRecord(x, Section.ANSWER); any = true; }
            if (!any && !exists(name)) h.setRcode(Rcode.NXDOMAIN);
            break;
        }
        return r.toWire();
    }

    /** A name exists if it has records or is an ancestor of a name that has (an empty non-terminal). */
    private boolean exists(Name name) {
        if (records.containsKey(name) || timeouts.contains(name)) return true;
        for (TypedName t : typeTimeouts) if (t.name().equals(name)) return true;
        for (Name n : records.keySet()) if (n.subdomain(name)) return true;
        return false;
    }

    private void serveUdp() {
        byte[] buf = new byte[65535];
        while (!udp.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                udp.receive(p);
                byte[] query = java.util.Arrays.copyOf(p.getData(), p.getLength());
                byte[] reply = answer(query);
                if (reply == null) continue;
                if (reply.length > 512 && !hasEdns(query)) reply = truncated(query);
                byte[] out = reply;
                var to = p.getSocketAddress();
                CountDownLatch hold = holdFor(query);
                if (hold == null) {
                    udp.send(new DatagramPacket(out, out.length, to));
                    continue;
                }
                Thread.ofVirtual().start(() -> {
                    try {
                        hold.await(30, TimeUnit.SECONDS);
                        udp.send(new DatagramPacket(out, out.length, to));
                    } catch (IOException | InterruptedException ignored) {
                        // closed meanwhile
                    }
                });
            } catch (SocketException closed) {
                return;
            } catch (IOException | RuntimeException e) {
                // a malformed query: ignore it, as a real server would
            }
        }
    }

    private void serveTcp() {
        while (!tcp.isClosed()) {
            try {
                Socket s = tcp.accept();
                Thread.ofVirtual().start(() -> {
                    try (s) {
                        s.setSoTimeout(5000);
                        var in = new DataInputStream(s.getInputStream());
                        var out = new DataOutputStream(s.getOutputStream());
                        while (true) {
                            int len = in.readUnsignedShort();
                            byte[] query = in.readNBytes(len);
                            byte[] reply = answer(query);
                            if (reply == null) continue;
                            CountDownLatch hold = holdFor(query);
                            if (hold != null) hold.await(30, TimeUnit.SECONDS);
                            out.writeShort(reply.length);
                            out.write(reply);
                            out.flush();
                        }
                    } catch (IOException | RuntimeException | InterruptedException done) {
                        // client closed
                    }
                });
            } catch (IOException closed) {
                return;
            }
        }
    }

    /** The latch holding back answers to this query's name, or null. */
    private CountDownLatch holdFor(byte[] query) {
        if (holds.isEmpty()) return null;
        try {
            Record q = new Message(query).getQuestion();
            if (q == null) return null;
            CountDownLatch any = holds.get(new TypedName(q.getName(), ANY_TYPE));
            return any != null ? any : holds.get(new TypedName(q.getName(), q.getType()));
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean hasEdns(byte[] query) {
        try {
            return new Message(query).getOPT() != null;
        } catch (IOException e) {
            return false;
        }
    }

    private static byte[] truncated(byte[] query) throws IOException {
        Message q = new Message(query);
        Message r = new Message(q.getHeader().getID());
        r.getHeader().setFlag(Flags.QR);
        r.getHeader().setFlag(Flags.TC);
        r.addRecord(q.getQuestion(), Section.QUESTION);
        return r.toWire();
    }

    /** Name equality in dnsjava ignores case, and so does this key. */
    private record TypedName(Name name, int type) {}

    private static Name name(String s) {
        try {
            return Name.fromString(s.endsWith(".") ? s : s + ".");
        } catch (TextParseException e) {
            throw new IllegalArgumentException("bad DNS name " + s, e);
        }
    }

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s); // literals only in tests: no lookup happens
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("bad address " + s, e);
        }
    }

    @Override public void close() {
        udp.close();
        try {
            tcp.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
