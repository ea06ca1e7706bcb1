package dev.portcullis.hook;

import java.net.InetAddress;
import java.time.Instant;
import java.util.Optional;

/** What a plugin may know about the connection it is judging. Lives as long as the TCP connection. */
public interface Session {
    /** Unique id of this connection, also in every log line about it. */
    String id();
    InetAddress remoteAddress();
    int remotePort();
    InetAddress localAddress();
    int localPort();
    /** The role of the listener that accepted the connection: mx, submission or submissions. */
    String listenerRole();
    Instant connectedAt();
    /** The HELO/EHLO argument, or null before the client said it. */
    String helo();
    boolean extended();
    boolean tls();
    Optional<String> authenticatedUser();
    /** True when the client is in a configured relay network (trusted to send anywhere). */
    boolean relayClient();
    /** True when the client is in the configured allow networks: immune to the checks meant for strangers. */
    boolean allowlisted();
    Notes notes();
    DecisionTrace trace();
    /** Messages this session has had accepted (250 after DATA or BDAT LAST) so far. */
    int messagesAccepted();

    /**
     * Sends any pending replies, then waits up to {@code wait} for the client to send something; true as
     * soon as it does (an early talker, RFC 5321 4.3.1 says clients wait for the greeting), false when the
     * time passes in silence. What the client sent is kept for the session to read.
     */
    boolean clientTalksWithin(java.time.Duration wait);
}
