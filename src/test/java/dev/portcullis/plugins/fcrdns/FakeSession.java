package dev.portcullis.plugins.fcrdns;

import dev.portcullis.hook.DecisionTrace;
import dev.portcullis.hook.Notes;
import dev.portcullis.hook.Session;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/** A session for unit tests: a client address, notes, a trace and the exemption flags. */
final class FakeSession implements Session {
    final InetAddress remote;
    final Notes notes = new Notes();
    final DecisionTrace trace = new DecisionTrace();
    boolean relayClient;
    boolean allowlisted;
    String authUser;

    FakeSession(String ip) {
        try {
            this.remote = InetAddress.getByName(ip); // a literal: no lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }

    @Override public String id() { return "test"; }
    @Override public InetAddress remoteAddress() { return remote; }
    @Override public int remotePort() { return 40000; }
    @Override public InetAddress localAddress() { return InetAddress.getLoopbackAddress(); }
    @Override public int localPort() { return 25; }
    @Override public String listenerRole() { return "mx"; }
    @Override public Instant connectedAt() { return Instant.EPOCH; }
    @Override public String helo() { return null; }
    @Override public boolean extended() { return false; }
    @Override public boolean tls() { return false; }
    @Override public Optional<String> authenticatedUser() { return Optional.ofNullable(authUser); }
    @Override public boolean relayClient() { return relayClient; }
    @Override public boolean allowlisted() { return allowlisted; }
    @Override public Notes notes() { return notes; }
    @Override public DecisionTrace trace() { return trace; }
    @Override public boolean clientTalksWithin(Duration wait) { return false; }
}
