package dev.portcullis.dns;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.Message;
import org.xbill.DNS.io.IoClientFactory;
import org.xbill.DNS.io.TcpIoClient;
import org.xbill.DNS.io.UdpIoClient;

/**
 * dnsjava's transport, done with plain blocking sockets on the thread that asks: a session's (or a
 * lookup's) virtual thread, which the JDK parks while the socket waits. dnsjava's own NIO client hands
 * every query to one selector thread and every answer to the common pool before the asking thread wakes
 * up: two thread hand-offs and about a dozen system calls per query, which on a busy 2-CPU machine cost
 * more than the loopback round trip itself.
 *
 * <p>Invariants: a UDP socket bound to port 0, so the kernel picks a random source port (Linux randomises
 * ephemeral UDP ports), and connected to the server, so the kernel drops datagrams from anyone else; a
 * datagram whose message id is not the query's is ignored (a stray or spoofed answer, or a late answer to
 * an earlier query) and the wait goes on until the deadline. A fresh socket per query to a server across
 * the network: its random port is half of what an off-path spoofer must guess (RFC 5452). Sockets to a
 * server on loopback (the local caching resolver a mail server should use) are kept and used again after
 * an answer (at most MAX_IDLE per server): nobody off the machine can send to them, so a new port per
 * query would buy nothing, and creating, binding, connecting and closing a socket cost more than the
 * query. A socket whose query failed or timed out is closed, never kept. dnsjava's resolver still checks the answer's id and question and
 * falls back to TCP (RFC 7766) when the UDP answer is truncated. The returned futures are already complete.
 */
final class CallerThreadIo implements IoClientFactory, UdpIoClient, TcpIoClient {
    private static final int MAX_IDLE = 64;

    /** Idle connected sockets per loopback server, and how many there are (the queue's size() walks it). */
    private record Idle(ConcurrentLinkedQueue<DatagramSocket> sockets, AtomicInteger count) {}

    private final ConcurrentHashMap<InetSocketAddress, Idle> idle = new ConcurrentHashMap<>();

    @Override public TcpIoClient createOrGetTcpClient() { return this; }

    @Override public UdpIoClient createOrGetUdpClient() { return this; }

    @Override public CompletableFuture<byte[]> sendAndReceiveUdp(InetSocketAddress local, InetSocketAddress remote,
                                                               Message query, byte[] data, int max, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int id = query.getHeader().getID();
        Idle pool = local == null && remote.getAddress().isLoopbackAddress()
                ? idle.computeIfAbsent(remote, r -> new Idle(new ConcurrentLinkedQueue<>(), new AtomicInteger()))
                : null;
        DatagramSocket socket = null;
        ScheduledFuture<?> timer = null;
        boolean answered = false;
        try {
            socket = pool == null ? null : pool.sockets().poll();
            if (socket != null) pool.count().decrementAndGet();
            else {
                socket = new DatagramSocket(local); // null: any address, port 0
                socket.connect(remote);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new SocketTimeoutException("DNS query timed out");
            timer = Deadlines.in(left, socket::close); // ends the receive (see Deadlines)
            socket.send(new DatagramPacket(data, data.length));
            byte[] buffer = new byte[Math.max(max, 512)];
            while (true) {
                DatagramPacket answer = new DatagramPacket(buffer, buffer.length);
                socket.receive(answer);
                if (answer.getLength() >= 2 && ((buffer[0] & 0xff) << 8 | (buffer[1] & 0xff)) == id) {
                    answered = true;
                    return CompletableFuture.completedFuture(Arrays.copyOf(buffer, answer.getLength()));
                }
            }
        } catch (IOException e) {
            // nobody else closes a query's socket: closed means the deadline's timer did it
            if (timer != null && socket.isClosed()) e = new SocketTimeoutException("DNS query timed out");
            return CompletableFuture.failedFuture(e);
        } finally {
            // a timer that could not be cancelled has closed the socket, or is closing it
            if (timer != null && !timer.cancel(false)) answered = false;
            if (socket != null) {
                if (answered && pool != null && pool.count().incrementAndGet() <= MAX_IDLE) pool.sockets().add(socket);
                else {
                    if (answered && pool != null) pool.count().decrementAndGet();
                    socket.close();
                }
            }
        }
    }

    @Override public CompletableFuture<byte[]> sendAndReceiveTcp(InetSocketAddress local, InetSocketAddress remote,
                                                               Message query, byte[] data, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Socket socket = new Socket()) {
            if (local != null) socket.bind(local);
            socket.connect(remote, remainingMillis(deadline));
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            byte[] framed = new byte[data.length + 2]; // RFC 1035 4.2.2: a two-octet length, then the message
            framed[0] = (byte) (data.length >>> 8);
            framed[1] = (byte) data.length;
            System.arraycopy(data, 0, framed, 2, data.length);
            out.write(framed);
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            socket.setSoTimeout(remainingMillis(deadline));
            int length = in.readUnsignedShort();
            byte[] answer = new byte[length];
            socket.setSoTimeout(remainingMillis(deadline));
            in.readFully(answer);
            return CompletableFuture.completedFuture(answer);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Milliseconds until the deadline, at least 1 (0 would mean "wait forever" to a socket). */
    private static int remainingMillis(long deadlineNanos) throws SocketTimeoutException {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) throw new SocketTimeoutException("DNS query timed out");
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000));
    }
}
