package dev.portcullis.queue;

import dev.portcullis.hook.Address;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/*
 * The state file of a queued message (FileSpool's state/<id>), in the tokens of EnvelopeFormat:
 *
 *   portcullis-state 1
 *   id +01J2X3Y4Z5ABCDEF
 *   rcpt +local +domain +raw attempts 3 next +2024-05-01T12:00:00Z status +4.4.1 mta +mx.example.net error +smtp;... warned 0
 *
 * One rcpt line per recipient, fields in this order; "-" for a null token. Lines end in LF and are ASCII.
 */
final class RetryStateFormat {

    static final String MAGIC = "portcullis-state";
    static final int VERSION = 1;

    private RetryStateFormat() {}

    static String format(String queueId, Collection<RetryState> states) throws IOException {
        StringBuilder sb = new StringBuilder(64 + states.size() * 160);
        sb.append(MAGIC).append(' ').append(VERSION).append('\n');
        sb.append("id ").append(EnvelopeFormat.token(queueId)).append('\n');
        for (RetryState s : states) {
            sb.append("rcpt ").append(EnvelopeFormat.address(s.recipient()))
                    .append(" attempts ").append(s.attempts())
                    .append(" next ").append(EnvelopeFormat.token(s.nextAttempt().toString()))
                    .append(" status ").append(EnvelopeFormat.token(s.status()))
                    .append(" mta ").append(EnvelopeFormat.token(s.remoteMta()))
                    .append(" error ").append(EnvelopeFormat.token(s.lastError()))
                    .append(" warned ").append(s.warned() ? '1' : '0')
                    .append('\n');
        }
        return sb.toString();
    }

    static Map<Address, RetryState> parse(String text, String queueId) throws IOException {
        String[] lines = text.split("\n", -1);
        if (lines.length < 3 || !lines[0].equals(MAGIC + " " + VERSION)) throw corrupt(queueId, "not a version " + VERSION + " state file");
        if (!lines[1].equals("id " + EnvelopeFormat.token(queueId))) throw corrupt(queueId, "names another queue id");
        if (!lines[lines.length - 1].isEmpty()) throw corrupt(queueId, "last line not terminated");
        Map<Address, RetryState> out = new LinkedHashMap<>();
        for (int i = 2; i < lines.length - 1; i++) {
            String[] f = lines[i].split(" ", -1);
            if (f.length != 16 || !f[0].equals("rcpt") || !f[4].equals("attempts") || !f[6].equals("next")
                    || !f[8].equals("status") || !f[10].equals("mta") || !f[12].equals("error") || !f[14].equals("warned"))
                throw corrupt(queueId, "bad line " + (i + 1));
            Address rcpt = EnvelopeFormat.parseAddress(f[1] + " " + f[2] + " " + f[3], queueId);
            int attempts;
            Instant next;
            try {
                attempts = Integer.parseInt(f[5]);
                String n = EnvelopeFormat.untoken(f[7], queueId);
                if (n == null) throw corrupt(queueId, "no next attempt time");
                next = Instant.parse(n);
            } catch (NumberFormatException | DateTimeException e) {
                throw corrupt(queueId, "bad number or time on line " + (i + 1));
            }
            if (attempts < 0 || !(f[15].equals("0") || f[15].equals("1"))) throw corrupt(queueId, "bad line " + (i + 1));
            out.put(rcpt, new RetryState(rcpt, attempts, next, EnvelopeFormat.untoken(f[9], queueId),
                    EnvelopeFormat.untoken(f[11], queueId), EnvelopeFormat.untoken(f[13], queueId), f[15].equals("1")));
        }
        return Collections.unmodifiableMap(out);
    }

    private static IOException corrupt(String queueId, String why) {
        return new IOException("corrupt state file " + queueId + ": " + why);
    }
}
