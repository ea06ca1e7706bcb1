package dev.portcullis.smtp;

import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Session;
import java.net.InetAddress;
import java.time.Instant;
import java.util.Optional;

/** The engine's mutable view of a connection; plugins see it through {@link Session}. */
final class SessionState implements Session {
    final String id;
    final InetAddress remote;
    final int remotePort;
    final InetAddress local;
    final int localPort;
    final String role;
    final Instant connectedAt;
    final boolean relayClient;
    final boolean allowlisted;
    final Notes notes = new Notes();
    final DecisionTrace trace = new DecisionTrace();
    String helo;
    boolean extended;
    boolean tls;
    String authUser;
    int messagesAccepted;
    /** Set by the session: waits for client input (see {@link Session#clientTalksWithin}). */
    java.util.function.Predicate<java.time.Duration> talkProbe = d -> false;

    SessionState(String id, InetAddress remote, int remotePort, InetAddress local, int localPort, String role,
                 Instant connectedAt, boolean relayClient, boolean allowlisted) {
        this.id = id;
        this.remote = remote;
        this.remotePort = remotePort;
        this.local = local;
        this.localPort = localPort;
        this.role = role;
        this.connectedAt = connectedAt;
        this.relayClient = relayClient;
        this.allowlisted = allowlisted;
    }

    @Override public String id() { return id; }
    @Override public InetAddress remoteAddress() { return remote; }
    @Override public int remotePort() { return remotePort; }
    @Override public InetAddress localAddress() { return local; }
    @Override public int localPort() { return localPort; }
    @Override public String listenerRole() { return role; }
    @Override public Instant connectedAt() { return connectedAt; }
    @Override public String helo() { return helo; }
    @Override public boolean extended() { return extended; }
    @Override public boolean tls() { return tls; }
    @Override public Optional<String> authenticatedUser() { return Optional.ofNullable(authUser); }
    @Override public boolean relayClient() { return relayClient; }
    @Override public boolean allowlisted() { return allowlisted; }
    @Override public Notes notes() { return notes; }
    @Override public DecisionTrace trace() { return trace; }
    @Override public int messagesAccepted() { return messagesAccepted; }
    @Override public boolean clientTalksWithin(java.time.Duration wait) { return talkProbe.test(wait); }
}
