package dev.portcullis.outbound;

import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Client-side TLS for STARTTLS. {@code verify}: the JDK's trust store (cacerts) and an RFC 6125 host name
 * check against the MX or smarthost name. {@code none}: any certificate — opportunistic TLS in the sense of
 * RFC 7435, which protects against passive eavesdropping only; on the public MX network most certificates
 * would not verify anyway (no DANE or MTA-STS here), which is why it is the default.
 */
final class ClientTls {
    private final SSLSocketFactory factory;
    private final boolean verify;

    ClientTls(boolean verify) {
        this.verify = verify;
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            if (verify) {
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init((java.security.KeyStore) null); // the JDK's default trust store
                ctx.init(null, tmf.getTrustManagers(), null);
            } else {
                ctx.init(null, new TrustManager[] {new AnyCertificate()}, null);
            }
            this.factory = ctx.getSocketFactory();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no TLS in this JDK", e);
        }
    }

    SSLSocketFactory factory() { return factory; }

    boolean verify() { return verify; }

    private static final class AnyCertificate implements X509TrustManager {
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType) {}
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType) {}
        @Override public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }
}
