package dev.portcullis.spf;

/**
 * Ends check_host() at once with a permerror or temperror (RFC 7208 2.6.6, 2.6.7). Thrown from any depth of
 * include/redirect recursion: both errors propagate unchanged through "include" (5.2) and "redirect" (6.1).
 */
final class SpfException extends Exception {
    private final SpfResult result;

    private SpfException(SpfResult result, String reason) {
        super(reason, null, false, false);
        this.result = result;
    }

    static SpfException perm(String reason) { return new SpfException(SpfResult.PERMERROR, reason); }

    static SpfException temp(String reason) { return new SpfException(SpfResult.TEMPERROR, reason); }

    SpfResult result() { return result; }
}
