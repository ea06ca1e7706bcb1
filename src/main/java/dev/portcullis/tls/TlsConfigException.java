package dev.portcullis.tls;

/**
 * A TLS setting the admin got wrong (missing file, wrong key, unreadable PEM...). Unchecked because
 * it can only be fixed by editing the configuration, and the message is written for that admin:
 * it names the file and the problem, so startup can print it as one line instead of a stack trace.
 */
public final class TlsConfigException extends RuntimeException {

    TlsConfigException(String message) {
        super(message);
    }

    TlsConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
