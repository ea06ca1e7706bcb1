package dev.portcullis.spf;

import java.util.Locale;

/** The seven results of check_host() (RFC 7208 2.6). */
public enum SpfResult {
    NONE, NEUTRAL, PASS, FAIL, SOFTFAIL, TEMPERROR, PERMERROR;

    /** The result as RFC 7208 writes it in Received-SPF (9.1) and Authentication-Results (RFC 8601): lower case. */
    public String headerName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
