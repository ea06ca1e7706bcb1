package dev.portcullis.dns;

import java.util.List;

/**
 * The outcome of one DNS query. The distinction that matters to every check is permanent versus
 * temporary: NXDOMAIN and NODATA are facts about the name (a "void lookup" in SPF's words, RFC 7208 4.6.4);
 * TEMPFAIL (timeout, SERVFAIL, refused) is not, and must never turn into a permanent rejection.
 */
public record DnsAnswer<T>(Status status, List<T> records) {

    public enum Status { OK, NXDOMAIN, NODATA, TEMPFAIL }

    public DnsAnswer {
        records = List.copyOf(records);
    }

    public static <T> DnsAnswer<T> ok(List<T> records) {
        return records.isEmpty() ? new DnsAnswer<>(Status.NODATA, List.of()) : new DnsAnswer<>(Status.OK, records);
    }

    public static <T> DnsAnswer<T> of(Status status) { return new DnsAnswer<>(status, List.of()); }

    public boolean found() { return status == Status.OK; }
    public boolean isTemporaryFailure() { return status == Status.TEMPFAIL; }
    /** NXDOMAIN or NODATA: the name answers, with nothing of this type. */
    public boolean isVoid() { return status == Status.NXDOMAIN || status == Status.NODATA; }
}
