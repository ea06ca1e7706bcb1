package dev.portcullis.testkit;

import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Session;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A {@link Session} for unit tests of one plugin's decisions, where a whole server would hide what is being
 * tested: settable client and listener addresses, trust flags and role, real notes and trace, and a scripted
 * answer to {@link #clientTalksWithin} that records the waits it was asked for.
 */
public final class FakeSession implements Session {
    private static final AtomicInteger COUNTER = new AtomicInteger();

    public final Notes notes = new Notes();
    public final DecisionTrace trace = new DecisionTrace();
    public final List<Duration> waits = new ArrayList<>();
    public boolean relayClient;
    public boolean allowlisted;
    public String authenticatedUser;
    public String helo = "client.example.net";
    public int messagesAccepted;
    private final String id = "T" + COUNTER.incrementAndGet();
    private final InetAddress remote;
    private final InetAddress local;
    private String role = "mx";
    private Predicate<Duration> talks = d -> false;

    public FakeSession(String remote, String local) {
        this.remote = ip(remote);
        this.local = ip(local);
    }

    public FakeSession(String remote) { this(remote, "127.0.0.1"); }

    public static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal); // literals only in tests: no DNS
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }

    public FakeSession role(String r) { role = r; return this; }
    public FakeSession relay(boolean b) { relayClient = b; return this; }
    public FakeSession allow(boolean b) { allowlisted = b; return this; }
    public FakeSession authenticated(String user) { authenticatedUser = user; return this; }
    /** How the client behaves during a wait: true = it talks. */
    public FakeSession talks(Predicate<Duration> p) { talks = p; return this; }

    @Override public String id() { return id; }
    @Override public InetAddress remoteAddress() { return remote; }
    @Override public int remotePort() { return 40000; }
    @Override public InetAddress localAddress() { return local; }
    @Override public int localPort() { return 25; }
    @Override public String listenerRole() { return role; }
    @Override public Instant connectedAt() { return Instant.EPOCH; }
    @Override public String helo() { return helo; }
    @Override public boolean extended() { return true; }
    @Override public boolean tls() { return false; }
    @Override public Optional<String> authenticatedUser() { return Optional.ofNullable(authenticatedUser); }
    @Override public boolean relayClient() { return relayClient; }
    @Override public boolean allowlisted() { return allowlisted; }
    @Override public Notes notes() { return notes; }
    @Override public DecisionTrace trace() { return trace; }
    @Override public int messagesAccepted() { return messagesAccepted; }

    @Override public boolean clientTalksWithin(Duration wait) {
        waits.add(wait);
        return talks.test(wait);
    }
}
