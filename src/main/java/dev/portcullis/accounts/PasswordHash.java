package dev.portcullis.accounts;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Argon2id password hashes (RFC 9106) in the PHC string format:
 * {@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>}, salt and hash in standard base64 without padding.
 *
 * Invariants: the parameters are read back from each stored string, so raising {@link #MEMORY_KIB} or
 * {@link #ITERATIONS} later leaves old hashes verifiable ({@link #needsRehash} says which to upgrade);
 * comparison is constant-time; {@link #verify} never throws — a damaged or foreign hash is simply "no".
 * The computation is BouncyCastle's, proven against the RFC 9106 section 5.3 vector in the tests; nothing
 * here is home-made cryptography, only the string format around it.
 */
public final class PasswordHash {
    /** OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane (Password Storage Cheat Sheet). */
    public static final int MEMORY_KIB = 19 * 1024;
    public static final int ITERATIONS = 2;
    public static final int PARALLELISM = 1;
    static final int SALT_BYTES = 16;
    static final int HASH_BYTES = 32;

    // Bounds on what verify() will compute, so a corrupted row cannot make one login allocate gigabytes.
    private static final int MAX_MEMORY_KIB = 1 << 21; // 2 GiB
    private static final int MAX_ITERATIONS = 64;
    private static final int MAX_PARALLELISM = 64;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();

    private PasswordHash() {}

    /** A fresh hash of the password with a random salt and the current parameters. */
    public static String hash(char[] password) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] out = compute(password, salt, Argon2Parameters.ARGON2_VERSION_13, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
        return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM
                + "$" + B64.encodeToString(salt) + "$" + B64.encodeToString(out);
    }

    /** True when the password matches the PHC string; false for a wrong password and for any malformed string. */
    public static boolean verify(char[] password, String phc) {
        Phc p = Phc.parse(phc);
        if (p == null || password == null) return false;
        byte[] actual;
        try {
            actual = compute(password, p.salt, p.version, p.memory, p.iterations, p.parallelism, p.hash.length);
        } catch (RuntimeException e) {
            return false; // unencodable password (lone surrogate) or parameters BouncyCastle refuses
        }
        return MessageDigest.isEqual(actual, p.hash);
    }

    /** True when the string is not a current-strength Argon2id hash (weaker parameters, old version, damaged). */
    public static boolean needsRehash(String phc) {
        Phc p = Phc.parse(phc);
        return p == null || p.version != Argon2Parameters.ARGON2_VERSION_13 || p.memory < MEMORY_KIB
                || p.iterations < ITERATIONS || p.salt.length < SALT_BYTES || p.hash.length < HASH_BYTES;
    }

    private static byte[] compute(char[] password, byte[] salt, int version, int memory, int iterations, int parallelism, int length) {
        byte[] pw = utf8(password);
        try {
            Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                    .withVersion(version).withMemoryAsKB(memory).withIterations(iterations)
                    .withParallelism(parallelism).withSalt(salt).build();
            Argon2BytesGenerator gen = new Argon2BytesGenerator();
            gen.init(params);
            byte[] out = new byte[length];
            gen.generateBytes(pw, out);
            return out;
        } finally {
            Arrays.fill(pw, (byte) 0);
        }
    }

    /** UTF-8 without an intermediate String, so the password can be wiped; unpaired surrogates are refused. */
    private static byte[] utf8(char[] password) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(password));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            if (b.hasArray()) Arrays.fill(b.array(), (byte) 0);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("password is not valid Unicode");
        }
    }

    /** A parsed PHC string; null from {@link #parse} for anything that is not a sane Argon2id hash. */
    private record Phc(int version, int memory, int iterations, int parallelism, byte[] salt, byte[] hash) {
        static Phc parse(String s) {
            if (s == null || s.length() > 512) return null;
            String[] f = s.split("\\$", -1); // "", "argon2id", ["v=19",] "m=..,t=..,p=..", salt, hash
            if (f.length != 5 && f.length != 6 || !f[0].isEmpty() || !f[1].equals("argon2id")) return null;
            int i = 2;
            int version = Argon2Parameters.ARGON2_VERSION_10; // PHC: no v= field means the original 1.0
            if (f.length == 6) {
                if (!f[2].startsWith("v=")) return null;
                Integer v = number(f[2].substring(2));
                if (v == null || v != Argon2Parameters.ARGON2_VERSION_10 && v != Argon2Parameters.ARGON2_VERSION_13) return null;
                version = v;
                i = 3;
            }
            String[] kv = f[i].split(",", -1);
            if (kv.length != 3 || !kv[0].startsWith("m=") || !kv[1].startsWith("t=") || !kv[2].startsWith("p=")) return null;
            Integer m = number(kv[0].substring(2)), t = number(kv[1].substring(2)), p = number(kv[2].substring(2));
            if (m == null || t == null || p == null) return null;
            if (p < 1 || p > MAX_PARALLELISM || t < 1 || t > MAX_ITERATIONS || m < 8 * p || m > MAX_MEMORY_KIB) return null;
            byte[] salt = base64(f[i + 1]), hash = base64(f[i + 2]);
            if (salt == null || hash == null || salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64) return null;
            return new Phc(version, m, t, p, salt, hash);
        }

        /** Decimal without sign or leading zeros, as the PHC format requires. */
        private static Integer number(String s) {
            if (s.isEmpty() || s.length() > 10 || (s.length() > 1 && s.charAt(0) == '0')) return null;
            for (int k = 0; k < s.length(); k++) if (s.charAt(k) < '0' || s.charAt(k) > '9') return null;
            long v = Long.parseLong(s);
            return v > Integer.MAX_VALUE ? null : (int) v;
        }

        /** Standard alphabet, no padding (the PHC string format). */
        private static byte[] base64(String s) {
            if (s.isEmpty() || s.indexOf('=') >= 0 || s.length() % 4 == 1) return null;
            try {
                return Base64.getDecoder().decode(s);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
    }
}
