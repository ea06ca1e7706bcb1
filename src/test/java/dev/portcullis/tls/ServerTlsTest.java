package dev.portcullis.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.TestTls;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.Writer;
import java.io.OutputStreamWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

// Every socket has a read timeout and every test a hard limit, so a broken handshake fails instead of hanging.
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ServerTlsTest {

    private static final int SOCKET_TIMEOUT_MS = 10_000;
    private static final String FINGERPRINT = "([0-9A-F]{2}:){31}[0-9A-F]{2}";

    @TempDir Path dir;

    private final ExecutorService serverThread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "tls-test-server");
        t.setDaemon(true);
        return t;
    });

    @AfterEach
    void stopServer() throws InterruptedException {
        serverThread.shutdownNow();
        assertTrue(serverThread.awaitTermination(SOCKET_TIMEOUT_MS, TimeUnit.MILLISECONDS), "server thread did not stop");
    }

    // ---- selfSigned

    @Test
    void selfSignedGeneratesOnceThenReusesTheSameCertificate() throws Exception {
        Path tlsDir = dir.resolve("not/yet/there");
        ServerTls first = ServerTls.selfSigned(tlsDir, "mx.example.test");
        Path cert = tlsDir.resolve("selfsigned-cert.pem");
        Path key = tlsDir.resolve("selfsigned-key.pem");
        assertTrue(Files.isRegularFile(cert));
        assertTrue(Files.isRegularFile(key));
        byte[] certBytes = Files.readAllBytes(cert);
        byte[] keyBytes = Files.readAllBytes(key);
        assertTrue(new String(keyBytes, StandardCharsets.US_ASCII).startsWith("-----BEGIN PRIVATE KEY-----"));
        try (var files = Files.list(tlsDir)) {
            assertEquals(2, files.count(), "temp files left behind");
        }

        ServerTls second = ServerTls.selfSigned(tlsDir, "mx.example.test");
        assertEquals(first.sha256Fingerprint(), second.sha256Fingerprint());
        assertEquals(first.certificate(), second.certificate());
        assertArrayEquals(certBytes, Files.readAllBytes(cert), "certificate was regenerated");
        assertArrayEquals(keyBytes, Files.readAllBytes(key), "key was regenerated");
    }

    @Test
    void selfSignedRegeneratesWhenTheCertificateIsMissing() {
        ServerTls first = ServerTls.selfSigned(dir, "mx.example.test");
        assertTrue(dir.resolve("selfsigned-cert.pem").toFile().delete());
        ServerTls second = ServerTls.selfSigned(dir, "mx.example.test");
        assertNotEquals(first.sha256Fingerprint(), second.sha256Fingerprint());
    }

    @Test
    void selfSignedKeyIsOwnerOnly() throws Exception {
        Assumptions.assumeTrue(Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class));
        ServerTls.selfSigned(dir, "mx.example.test");
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(dir.resolve("selfsigned-key.pem"))));
    }

    @Test
    void selfSignedCertificateHasTheRequestedShape() throws Exception {
        X509Certificate cert = ServerTls.selfSigned(dir, "mx.example.test").certificate();
        assertEquals("CN=mx.example.test", cert.getSubjectX500Principal().getName());
        assertEquals(cert.getSubjectX500Principal(), cert.getIssuerX500Principal());
        assertEquals(List.of(List.of(2, "mx.example.test")), cert.getSubjectAlternativeNames().stream().map(List::copyOf).toList());
        assertEquals(3, cert.getVersion());
        assertEquals("SHA256withECDSA", cert.getSigAlgName());
        assertEquals(-1, cert.getBasicConstraints(), "must not be a CA");
        assertTrue(cert.getKeyUsage()[0], "digitalSignature");
        assertEquals(List.of("1.3.6.1.5.5.7.3.1"), cert.getExtendedKeyUsage());
        assertTrue(cert.getSerialNumber().signum() > 0);
        assertTrue(cert.getSerialNumber().bitLength() <= 64);
        Instant now = Instant.now();
        assertTrue(cert.getNotBefore().toInstant().isBefore(now.minus(Duration.ofHours(23))));
        assertTrue(cert.getNotAfter().toInstant().isAfter(now.plus(Duration.ofDays(9 * 365))));
        cert.verify(cert.getPublicKey());
    }

    @Test
    void fingerprintHasOpensslForm() {
        ServerTls tls = ServerTls.selfSigned(dir, "mx.example.test");
        assertTrue(tls.sha256Fingerprint().matches(FINGERPRINT), tls.sha256Fingerprint());
    }

    // ---- handshakes

    @Test
    void clientThatVerifiesNothingCompletesTheHandshake() throws Exception {
        ServerTls server = ServerTls.selfSigned(dir, "localhost");
        assertEquals("echo: hello over TLS", exchange(server, TestTls.trustAll(), "hello over TLS"));
    }

    @Test
    void clientPinningTheGeneratedCertificateCompletesTheHandshake() throws Exception {
        ServerTls server = ServerTls.selfSigned(dir, "localhost");
        assertEquals("echo: pinned", exchange(server, TestTls.pinned(server.certificate()), "pinned"));
    }

    @Test
    void clientPinningAnotherCertificateIsRefused() throws Exception {
        ServerTls pinned = ServerTls.selfSigned(dir.resolve("a"), "localhost");
        ServerTls other = ServerTls.selfSigned(dir.resolve("b"), "localhost");
        assertNotEquals(pinned.sha256Fingerprint(), other.sha256Fingerprint());

        ExecutionException serverSide = assertThrows(ExecutionException.class, () -> {
            try (ServerSocket listener = listen()) {
                Future<String> served = serve(other, listener);
                assertThrows(SSLHandshakeException.class, () -> connect(TestTls.pinned(pinned.certificate()), listener, "x"));
                served.get(SOCKET_TIMEOUT_MS * 2L, TimeUnit.MILLISECONDS);
            }
        });
        // upgradeServerSide reports the failed handshake as an IOException for the caller to log.
        assertInstanceOf(IOException.class, serverSide.getCause());
    }

    @Test
    void plainTextClientFailsTheUpgradeWithIOException() throws Exception {
        ServerTls server = ServerTls.selfSigned(dir, "localhost");
        try (ServerSocket listener = listen()) {
            Future<String> served = serve(server, listener);
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
                client.setSoTimeout(SOCKET_TIMEOUT_MS);
                client.getOutputStream().write("EHLO not.tls\r\n".getBytes(StandardCharsets.US_ASCII));
                client.getOutputStream().flush();
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> served.get(SOCKET_TIMEOUT_MS * 2L, TimeUnit.MILLISECONDS));
                assertInstanceOf(IOException.class, e.getCause());
            }
        }
    }

    @Test
    void onlyTls12AndTls13AreOffered() throws Exception {
        ServerTls server = ServerTls.selfSigned(dir, "localhost");
        SSLSocketFactory client = TestTls.trustAll();
        try (ServerSocket listener = listen()) {
            Future<String> served = serve(server, listener);
            try (SSLSocket socket = (SSLSocket) client
                    .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
                socket.setSoTimeout(SOCKET_TIMEOUT_MS);
                socket.setEnabledProtocols(new String[] {"TLSv1.2"});
                socket.startHandshake();
                assertEquals("TLSv1.2", socket.getSession().getProtocol());
                sendLine(socket, "v12");
                assertEquals("echo: v12", readLine(socket));
            }
            served.get(SOCKET_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
    }

    // ---- fromPem

    @Test
    void fromPemLoadsWhatSelfSignedWrote() throws Exception {
        ServerTls generated = ServerTls.selfSigned(dir.resolve("gen"), "mx.example.test");
        Path copy = Files.createDirectories(dir.resolve("copy"));
        Path cert = Files.copy(dir.resolve("gen/selfsigned-cert.pem"), copy.resolve("chain.pem"));
        Path key = Files.copy(dir.resolve("gen/selfsigned-key.pem"), copy.resolve("key.pem"));
        ServerTls loaded = ServerTls.fromPem(cert, key);
        assertEquals(generated.sha256Fingerprint(), loaded.sha256Fingerprint());
        assertEquals("echo: loaded", exchange(loaded, TestTls.pinned(generated.certificate()), "loaded"));
    }

    @Test
    void fromPemReadsPkcs1RsaKeys() throws Exception {
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        KeyPair pair = rsa.generateKeyPair();
        Path cert = writePem(dir.resolve("rsa-cert.pem"), certificate(pair, "SHA256withRSA"));
        Path key = writePem(dir.resolve("rsa-key.pem"), pair.getPrivate());
        assertTrue(Files.readString(key).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
        ServerTls tls = ServerTls.fromPem(cert, key);
        assertEquals("echo: rsa", exchange(tls, TestTls.trustAll(), "rsa"));
    }

    @Test
    void fromPemReadsSec1EcKeysWithParametersBlock() throws Exception {
        KeyPair pair = ecKeyPair();
        Path cert = writePem(dir.resolve("ec-cert.pem"), certificate(pair, "SHA256withECDSA"));
        Path key = writeSec1(dir.resolve("ec-key.pem"), pair, true);
        // What `openssl ecparam -name prime256v1 -genkey` writes before the key.
        Files.writeString(key, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                + Files.readString(key));
        ServerTls tls = ServerTls.fromPem(cert, key);
        assertEquals(certificate(cert), tls.certificate());
        assertEquals("echo: sec1", exchange(tls, TestTls.trustAll(), "sec1"));
    }

    @Test
    void fromPemReadsSec1EcKeysWithoutPublicKey() throws Exception {
        // `openssl ec -no_public` leaves the optional public key out of the SEC1 structure.
        KeyPair pair = ecKeyPair();
        Path cert = writePem(dir.resolve("ec-cert.pem"), certificate(pair, "SHA256withECDSA"));
        Path key = writeSec1(dir.resolve("ec-key.pem"), pair, false);
        assertEquals(certificate(cert), ServerTls.fromPem(cert, key).certificate());
    }

    @Test
    void fromPemReadsAChainServerCertificateFirst() throws Exception {
        KeyPair caPair = ecKeyPair();
        KeyPair serverPair = ecKeyPair();
        X509Certificate ca = certificate(caPair.getPublic(), "CN=Test CA", "CN=Test CA", caPair.getPrivate());
        X509Certificate leaf = certificate(serverPair.getPublic(), "CN=localhost", "CN=Test CA", caPair.getPrivate());
        Path key = writeSec1(dir.resolve("key.pem"), serverPair, true);
        Path chain = Files.writeString(dir.resolve("chain.pem"), pemText(leaf) + pemText(ca));

        ServerTls tls = ServerTls.fromPem(chain, key);
        assertEquals(leaf, tls.certificate());
        // The CA is the client's trust anchor here, so this also proves the intermediate is sent.
        assertEquals("echo: chained", exchange(tls, TestTls.pinned(ca), "chained"));

        Path unrelated = Files.writeString(dir.resolve("unrelated.pem"),
                pemText(leaf) + pemText(certificate(ecKeyPair(), "SHA256withECDSA")));
        TlsConfigException e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(unrelated, key));
        assertTrue(e.getMessage().contains("unrelated.pem"), e.getMessage());
        assertTrue(e.getMessage().contains("is not the issuer"), e.getMessage());

        Path reversed = Files.writeString(dir.resolve("reversed.pem"), pemText(ca) + pemText(leaf));
        e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(reversed, key));
        assertTrue(e.getMessage().contains("put the server certificate first"), e.getMessage());
    }

    @Test
    void fromPemWithMissingFileNamesIt() {
        ServerTls.selfSigned(dir, "mx.example.test");
        Path key = dir.resolve("selfsigned-key.pem");
        TlsConfigException e = assertThrows(TlsConfigException.class,
                () -> ServerTls.fromPem(dir.resolve("no-such-cert.pem"), key));
        assertTrue(e.getMessage().contains("no-such-cert.pem"), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());

        e = assertThrows(TlsConfigException.class,
                () -> ServerTls.fromPem(dir.resolve("selfsigned-cert.pem"), dir.resolve("no-such-key.pem")));
        assertTrue(e.getMessage().contains("no-such-key.pem"), e.getMessage());
    }

    @Test
    void fromPemWithGarbageNamesTheFile() throws Exception {
        ServerTls.selfSigned(dir, "mx.example.test");
        Path cert = dir.resolve("selfsigned-cert.pem");
        Path key = dir.resolve("selfsigned-key.pem");
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "this is not a certificate\n\u00ff\u0000\n");
        Path brokenPem = Files.writeString(dir.resolve("broken.pem"),
                "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n");

        for (Path bad : List.of(garbage, brokenPem)) {
            TlsConfigException e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(bad, key));
            assertTrue(e.getMessage().contains(bad.getFileName().toString()), e.getMessage());
            e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(cert, bad));
            assertTrue(e.getMessage().contains(bad.getFileName().toString()), e.getMessage());
        }
        // A key where the certificate should be, and the other way round.
        TlsConfigException e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(key, key));
        assertTrue(e.getMessage().contains("contains no certificate"), e.getMessage());
        e = assertThrows(TlsConfigException.class, () -> ServerTls.fromPem(cert, cert));
        assertTrue(e.getMessage().contains("contains no private key"), e.getMessage());
    }

    @Test
    void fromPemRejectsAKeyThatDoesNotMatch() {
        ServerTls.selfSigned(dir.resolve("a"), "mx.example.test");
        ServerTls.selfSigned(dir.resolve("b"), "mx.example.test");
        Path otherKey = dir.resolve("b/selfsigned-key.pem");
        TlsConfigException e = assertThrows(TlsConfigException.class,
                () -> ServerTls.fromPem(dir.resolve("a/selfsigned-cert.pem"), otherKey));
        assertTrue(e.getMessage().contains(otherKey.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
    }

    @Test
    void fromPemRejectsAnRsaKeyForAnEcCertificate() throws Exception {
        ServerTls.selfSigned(dir, "mx.example.test");
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        Path rsaKey = writePem(dir.resolve("rsa-key.pem"), rsa.generateKeyPair().getPrivate());
        TlsConfigException e = assertThrows(TlsConfigException.class,
                () -> ServerTls.fromPem(dir.resolve("selfsigned-cert.pem"), rsaKey));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
    }

    @Test
    void fromPemRejectsEncryptedKeysWithAHint() throws Exception {
        ServerTls.selfSigned(dir, "mx.example.test");
        Path encrypted = Files.writeString(dir.resolve("enc.pem"), """
                -----BEGIN RSA PRIVATE KEY-----
                Proc-Type: 4,ENCRYPTED
                DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF

                AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
                -----END RSA PRIVATE KEY-----
                """);
        TlsConfigException e = assertThrows(TlsConfigException.class,
                () -> ServerTls.fromPem(dir.resolve("selfsigned-cert.pem"), encrypted));
        assertTrue(e.getMessage().contains("enc.pem"), e.getMessage());
        assertTrue(e.getMessage().contains("encrypted"), e.getMessage());
    }

    // ---- helpers

    private static ServerSocket listen() throws IOException {
        ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        listener.setSoTimeout(SOCKET_TIMEOUT_MS);
        return listener;
    }

    /** Accepts one connection, upgrades it, answers one line with "echo: " + line. */
    private Future<String> serve(ServerTls tls, ServerSocket listener) {
        return serverThread.submit(() -> {
            try (Socket plain = listener.accept()) {
                plain.setSoTimeout(SOCKET_TIMEOUT_MS);
                try (SSLSocket socket = tls.upgradeServerSide(plain)) {
                    String line = readLine(socket);
                    sendLine(socket, "echo: " + line);
                    return line;
                }
            }
        });
    }

    private String exchange(ServerTls server, SSLSocketFactory client, String line) throws Exception {
        try (ServerSocket listener = listen()) {
            Future<String> served = serve(server, listener);
            String reply = connect(client, listener, line);
            assertEquals(line, served.get(SOCKET_TIMEOUT_MS, TimeUnit.MILLISECONDS));
            return reply;
        }
    }

    private static String connect(SSLSocketFactory client, ServerSocket listener, String line) throws IOException {
        try (SSLSocket socket = (SSLSocket) client
                .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
            socket.setSoTimeout(SOCKET_TIMEOUT_MS);
            socket.startHandshake();
            sendLine(socket, line);
            return readLine(socket);
        }
    }

    private static void sendLine(Socket socket, String line) throws IOException {
        Writer out = new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
        out.write(line + "\r\n");
        out.flush();
    }

    // Byte by byte, so that no reader buffers data beyond the line.
    private static String readLine(Socket socket) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = socket.getInputStream().read()) != '\n'; ) {
            if (b < 0) throw new EOFException("connection closed after " + line.size() + " bytes");
            if (b != '\r') line.write(b);
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    private static KeyPair ecKeyPair() throws Exception {
        KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
        ec.initialize(new ECGenParameterSpec("secp256r1"));
        return ec.generateKeyPair();
    }

    private static X509Certificate certificate(KeyPair pair, String signatureAlgorithm) throws Exception {
        return certificate(pair.getPublic(), "CN=test.example", "CN=test.example", pair.getPrivate(), signatureAlgorithm);
    }

    private static X509Certificate certificate(PublicKey subjectKey, String subject, String issuer, PrivateKey issuerKey)
            throws Exception {
        return certificate(subjectKey, subject, issuer, issuerKey, "SHA256withECDSA");
    }

    private static X509Certificate certificate(PublicKey subjectKey, String subject, String issuer, PrivateKey issuerKey,
                                               String signatureAlgorithm) throws Exception {
        Instant now = Instant.now();
        var builder = new JcaX509v3CertificateBuilder(new X500Name(issuer), new BigInteger(63, new SecureRandom()).add(BigInteger.ONE),
                Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(1))),
                new X500Name(subject), subjectKey);
        if (subject.equals(issuer) && subject.contains("CA"))
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        return new JcaX509CertificateConverter().getCertificate(
                builder.build(new JcaContentSignerBuilder(signatureAlgorithm).build(issuerKey)));
    }

    private static X509Certificate certificate(Path pem) throws Exception {
        try (var in = Files.newInputStream(pem)) {
            return (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static String pemText(Object object) throws IOException {
        var out = new java.io.StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(object);
        }
        return out.toString();
    }

    private static Path writePem(Path file, Object object) throws IOException {
        return Files.writeString(file, pemText(object));
    }

    /** "BEGIN EC PRIVATE KEY" with the curve named inside, as OpenSSL writes it. */
    private static Path writeSec1(Path file, KeyPair pair, boolean withPublicKey) throws IOException {
        SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(pair.getPublic().getEncoded());
        ASN1ObjectIdentifier curve = (ASN1ObjectIdentifier) spki.getAlgorithm().getParameters();
        BigInteger d = ((ECPrivateKey) pair.getPrivate()).getS();
        var sec1 = withPublicKey
                ? new org.bouncycastle.asn1.sec.ECPrivateKey(256, d, spki.getPublicKeyData(), curve)
                : new org.bouncycastle.asn1.sec.ECPrivateKey(256, d, curve);
        String pem = pemText(new PemObject("EC PRIVATE KEY", sec1.getEncoded()));
        assertTrue(pem.startsWith("-----BEGIN EC PRIVATE KEY-----"));
        return Files.writeString(file, pem);
    }

}
