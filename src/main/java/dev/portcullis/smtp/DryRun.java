package dev.portcullis.smtp;

import dev.portcullis.hook.DecisionTrace;
import java.net.InetAddress;
import java.util.List;

/**
 * Puts a pretend client through the real session engine and plugin chain, without a socket and without
 * storing anything: the administrator's way to see why a given client, HELO and sender would be refused.
 */
public final class DryRun {
    /** What the session answered, and every check's verdict. */
    public record Result(String transcript, DecisionTrace trace) {}

    private DryRun() {}

    /** @param service a service whose queue hook or spool keeps nothing (the caller decides) */
    public static Result run(SmtpService service, InetAddress client, List<String> script) {
        ScriptedTransport transport = new ScriptedTransport(client, script);
        SmtpSession session = new SmtpSession(service, transport, "mx", "CHECK");
        session.run();
        return new Result(transport.transcript(), session.trace());
    }
}
