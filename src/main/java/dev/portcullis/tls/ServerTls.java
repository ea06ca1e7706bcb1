package dev.portcullis.tls;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Server-side TLS: the certificate, its key, and the socket upgrade for STARTTLS and implicit TLS.
 *
 * <p>Why a self-signed certificate is generated on first start: STARTTLS should work out of the box,
 * before the admin has a CA-issued certificate. Opportunistic SMTP TLS does not verify certificates,
 * so a self-signed one still encrypts the traffic; admins who want authentication pin the certificate
 * by the SHA-256 fingerprint we print, which is why it is in the same form as
 * {@code openssl x509 -fingerprint -sha256}. The generated pair is kept on disk and reused so the pin
 * stays valid across restarts.
 *
 * <p>BouncyCastle is used only to parse PEM and build the certificate; keys, signatures and TLS come
 * from the JDK's own providers, so we never install BouncyCastle as a global JCA provider.
 */
public final class ServerTls {

    static final String SELF_SIGNED_CERT = "selfsigned-cert.pem";
    static final String SELF_SIGNED_KEY = "selfsigned-key.pem";

    // Older protocols are broken or deprecated; every client worth talking to speaks one of these.
    private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private static final String CERT_ROLE = "TLS certificate file";
    private static final String KEY_ROLE = "TLS private key file";

    private static final Set<PosixFilePermission> OWNER_READ_WRITE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

    private final SSLContext sslContext;
    private final X509Certificate certificate;
    private final String fingerprint;

    private ServerTls(SSLContext sslContext, X509Certificate certificate) {
        this.sslContext = sslContext;
        this.certificate = certificate;
        this.fingerprint = fingerprintOf(certificate);
    }

    /**
     * Loads a PEM certificate chain (server certificate first, then intermediates) and its PEM private
     * key (PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted).
     *
     * @throws TlsConfigException naming the file and the problem
     */
    public static ServerTls fromPem(Path certificateChainPem, Path privateKeyPem) {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        List<X509Certificate> chain = readChain(certificateChainPem);
        PrivateKey key = readKey(privateKeyPem);
        if (!keyMatches(key, chain.getFirst().getPublicKey()))
            throw new TlsConfigException(KEY_ROLE + " " + privateKeyPem + " does not match the certificate in "
                    + certificateChainPem + " (the first certificate in that file must be the server's own)");
        return new ServerTls(buildContext(chain, key, certificateChainPem, privateKeyPem), chain.getFirst());
    }

    /**
     * Loads {@code tlsDir/selfsigned-cert.pem} and {@code tlsDir/selfsigned-key.pem}, generating them
     * first (EC P-256, valid ten years, for {@code hostname}) if they do not both exist yet.
     *
     * @throws TlsConfigException if the directory cannot be written or the existing files are bad
     */
    public static ServerTls selfSigned(Path tlsDir, String hostname) {
        Objects.requireNonNull(tlsDir, "tlsDir");
        Path certFile = tlsDir.resolve(SELF_SIGNED_CERT);
        Path keyFile = tlsDir.resolve(SELF_SIGNED_KEY);
        // The certificate is written last, so its presence means the pair is complete. A key without a
        // certificate (crash in between) or a certificate without its key is useless: start over.
        if (!(Files.exists(certFile) && Files.exists(keyFile))) generate(tlsDir, hostname, certFile, keyFile);
        return fromPem(certFile, keyFile);
    }

    public SSLContext sslContext() { return sslContext; }

    /** SHA-256 of the DER certificate as colon-separated uppercase hex, e.g. {@code AB:CD:...}. */
    public String sha256Fingerprint() { return fingerprint; }

    /** The server's own certificate (the first of the chain). */
    public X509Certificate certificate() { return certificate; }

    /**
     * Runs the server side of a TLS handshake over an already-connected socket: after STARTTLS's 220
     * reply, or straight after accept() for implicit TLS. The returned socket owns {@code plain}:
     * closing it closes both. The plain socket's read timeout also bounds the handshake.
     *
     * @throws IOException if the handshake fails; both sockets are closed by then
     */
    public SSLSocket upgradeServerSide(Socket plain) throws IOException {
        SSLSocket tls = (SSLSocket) sslContext.getSocketFactory().createSocket(plain, null, plain.getPort(), true);
        try {
            tls.setUseClientMode(false);
            List<String> supported = Arrays.asList(tls.getSupportedProtocols());
            String[] enabled = PROTOCOLS.stream().filter(supported::contains).toArray(String[]::new);
            if (enabled.length == 0) throw new IOException("this JVM supports neither TLSv1.3 nor TLSv1.2");
            tls.setEnabledProtocols(enabled);
            tls.startHandshake();
            return tls;
        } catch (IOException | RuntimeException e) {
            try {
                tls.close();
            } catch (IOException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    @Override public String toString() {
        return "ServerTls[" + certificate.getSubjectX500Principal().getName() + ", SHA-256 " + fingerprint + "]";
    }

    // ---- loading

    private static List<X509Certificate> readChain(Path file) {
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        List<X509Certificate> chain = new ArrayList<>();
        // Other objects are skipped so that a combined "cert + key" PEM file also works here.
        for (Object o : readPem(file, CERT_ROLE)) {
            if (o instanceof X509CertificateHolder holder) {
                try {
                    chain.add(converter.getCertificate(holder));
                } catch (GeneralSecurityException e) {
                    throw new TlsConfigException(CERT_ROLE + " " + file + " contains a damaged certificate: " + describe(e), e);
                }
            }
        }
        if (chain.isEmpty())
            throw new TlsConfigException(CERT_ROLE + " " + file
                    + " contains no certificate (expected PEM text with -----BEGIN CERTIFICATE-----)");
        // Clients rely on this order to build the path; checked here so the message can say which one is off.
        for (int i = 0; i + 1 < chain.size(); i++) {
            if (!chain.get(i).getIssuerX500Principal().equals(chain.get(i + 1).getSubjectX500Principal()))
                throw new TlsConfigException(CERT_ROLE + " " + file + ": certificate #" + (i + 2) + " ("
                        + chain.get(i + 1).getSubjectX500Principal().getName() + ") is not the issuer of certificate #"
                        + (i + 1) + "; put the server certificate first, then each issuer in turn");
        }
        return chain;
    }

    private static PrivateKey readKey(Path file) {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        // Objects before the key are skipped: `openssl ecparam -genkey` puts an EC PARAMETERS block first,
        // and some admins keep the certificate in the same file.
        for (Object o : readPem(file, KEY_ROLE)) {
            try {
                if (o instanceof PrivateKeyInfo info) return converter.getPrivateKey(info);
                // Only the private half: the public key is optional in SEC1 and absent in keys some tools write.
                if (o instanceof PEMKeyPair pair) return converter.getPrivateKey(pair.getPrivateKeyInfo());
            } catch (IOException e) {
                throw new TlsConfigException(KEY_ROLE + " " + file + " holds a key that cannot be read: " + describe(e), e);
            }
            if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo)
                // There is nobody to type a passphrase when a mail server starts.
                throw new TlsConfigException(KEY_ROLE + " " + file + " is encrypted; Portcullis needs an unencrypted key"
                        + " (decrypt it with: openssl pkey -in " + file + " -out <new file>, and keep that file mode 600)");
        }
        throw new TlsConfigException(KEY_ROLE + " " + file + " contains no private key (expected PEM text with"
                + " -----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)");
    }

    private static List<Object> readPem(Path file, String role) {
        if (Files.isDirectory(file)) throw new TlsConfigException(role + " " + file + " is a directory, not a file");
        // ISO-8859-1 maps every byte, so stray non-ASCII text around the PEM blocks (openssl's "Bag Attributes",
        // a friendly name) can never make decoding fail.
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1);
             PEMParser parser = new PEMParser(reader)) {
            List<Object> objects = new ArrayList<>();
            for (Object o; (o = parser.readObject()) != null; ) objects.add(o);
            return objects;
        } catch (NoSuchFileException e) {
            throw new TlsConfigException(role + " " + file + " does not exist", e);
        } catch (AccessDeniedException e) {
            throw new TlsConfigException(role + " " + file + " cannot be read: permission denied", e);
        } catch (IOException | RuntimeException e) {
            // BouncyCastle reports bad base64 or DER as runtime exceptions, not IOException.
            throw new TlsConfigException(role + " " + file + " is not readable PEM: " + describe(e), e);
        }
    }

    /**
     * Checked at load time because a mismatched pair would otherwise only show up as a handshake failure
     * on the first client, far from the configuration mistake that caused it.
     */
    private static boolean keyMatches(PrivateKey key, PublicKey publicKey) {
        if (key instanceof RSAKey rsa) return publicKey instanceof RSAKey pub && rsa.getModulus().equals(pub.getModulus());
        String algorithm = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
            case "DSA" -> "SHA256withDSA";
            default -> null;
        };
        // An algorithm we cannot test: let the handshake be the judge rather than reject a working setup.
        if (algorithm == null) return true;
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            // Typically a public key of another type than the private key: that is a mismatch too.
            return false;
        }
    }

    private static SSLContext buildContext(List<X509Certificate> chain, PrivateKey key, Path certFile, Path keyFile) {
        try {
            // The store lives only in memory, so its password protects nothing; KeyStore just requires one.
            char[] password = "portcullis".toCharArray();
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("server", key, password, chain.toArray(X509Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, password);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        } catch (GeneralSecurityException | IOException | IllegalArgumentException e) {
            throw new TlsConfigException("cannot use " + CERT_ROLE + " " + certFile + " with " + KEY_ROLE + " "
                    + keyFile + ": " + describe(e), e);
        }
    }

    private static String fingerprintOf(X509Certificate certificate) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is mandatory in every JDK", e);
        }
    }

    // ---- first-run self-signed certificate

    private static void generate(Path tlsDir, String hostname, Path certFile, Path keyFile) {
        if (hostname == null || hostname.isBlank())
            throw new TlsConfigException("cannot generate a self-signed certificate in " + tlsDir + ": no hostname configured");
        try {
            Files.createDirectories(tlsDir);
        } catch (IOException e) {
            throw new TlsConfigException("cannot create TLS directory " + tlsDir + ": " + describe(e), e);
        }
        String keyPem;
        String certPem;
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = generator.generateKeyPair();
            keyPem = pem(new JcaPKCS8Generator(pair.getPrivate(), null).generate());
            certPem = pem(selfSignedCertificate(pair, hostname));
        } catch (GeneralSecurityException | IOException | OperatorCreationException | IllegalArgumentException e) {
            // Mostly an unusable hostname (BouncyCastle rejects it in the subjectAltName).
            throw new TlsConfigException("cannot generate a self-signed certificate for \"" + hostname + "\" in "
                    + tlsDir + ": " + describe(e), e);
        }
        // Key first, certificate last: see selfSigned().
        writeAtomically(keyFile, keyPem, true);
        writeAtomically(certFile, certPem, false);
    }

    private static X509Certificate selfSignedCertificate(KeyPair pair, String hostname)
            throws GeneralSecurityException, IOException, OperatorCreationException {
        SecureRandom random = new SecureRandom();
        BigInteger serial;
        do serial = new BigInteger(64, random); while (serial.signum() == 0);
        Instant now = Instant.now();
        Date notBefore = Date.from(now.minus(Duration.ofDays(1))); // tolerate clients whose clock is behind
        Date notAfter = Date.from(now.atOffset(ZoneOffset.UTC).plusYears(10).toInstant());
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, hostname).build();

        JcaX509v3CertificateBuilder builder =
                new JcaX509v3CertificateBuilder(subject, serial, notBefore, notAfter, subject, pair.getPublic());
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
        builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
        builder.addExtension(Extension.subjectAlternativeName, false,
                new GeneralNames(new GeneralName(isIpLiteral(hostname) ? GeneralName.iPAddress : GeneralName.dNSName, hostname)));
        ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate());
        return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
    }

    // A server configured by address rather than name needs an iPAddress SAN; a dNSName "192.0.2.1" matches nothing.
    private static boolean isIpLiteral(String host) {
        return host.contains(":") || host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
    }

    private static String pem(Object object) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(object);
        }
        return out.toString();
    }

    /**
     * Temp file in the same directory, flushed to disk, then renamed over the target: a crash leaves either
     * the old file or the complete new one, never half a key. The key is created mode 600 from the start,
     * not chmod'ed afterwards, so it is never readable by others even for an instant.
     */
    private static void writeAtomically(Path target, String content, boolean secret) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            boolean posix = Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class);
            String prefix = "." + target.getFileName() + ".";
            tmp = posix
                    ? Files.createTempFile(dir, prefix, ".tmp", PosixFilePermissions.asFileAttribute(OWNER_READ_WRITE))
                    : Files.createTempFile(dir, prefix, ".tmp");
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer bytes = ByteBuffer.wrap(content.getBytes(StandardCharsets.US_ASCII));
                while (bytes.hasRemaining()) channel.write(bytes);
                channel.force(true);
            }
            if (posix && !secret) Files.setPosixFilePermissions(tmp, WORLD_READABLE);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw new TlsConfigException("cannot write " + (secret ? KEY_ROLE : CERT_ROLE) + " " + target + ": " + describe(e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // Best effort: the write error already being reported matters more than a leftover temp file.
                }
            }
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
    }
}
