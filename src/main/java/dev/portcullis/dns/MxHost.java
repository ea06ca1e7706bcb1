package dev.portcullis.dns;

/** One MX record: preference and exchange host name (without the trailing dot). */
public record MxHost(int preference, String host) {}
