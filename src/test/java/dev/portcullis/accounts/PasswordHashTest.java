package dev.portcullis.accounts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Argon2id through BouncyCastle, proven against RFC 9106, and the PHC string around it. */
class PasswordHashTest {

    private static byte[] repeat(int value, int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** RFC 9106 section 5.3: Argon2id, v=0x13, m=32 KiB, t=3, p=4, with secret and associated data. */
    @Test void bouncyCastleMatchesTheRfc9106Argon2idVector() {
        Argon2Parameters p = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13).withMemoryAsKB(32).withIterations(3).withParallelism(4)
                .withSalt(repeat(0x02, 16)).withSecret(repeat(0x03, 8)).withAdditional(repeat(0x04, 12)).build();
        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(p);
        byte[] tag = new byte[32];
        gen.generateBytes(repeat(0x01, 32), tag);
        assertArrayEquals(HexFormat.ofDelimiter(" ").parseHex(
                "0d 64 0d f5 8d 78 76 6c 08 c0 37 a3 4a 8b 53 c9 d0 1e f0 45 2d 75 b6 5e b5 25 20 e9 6b 01 e6 59"), tag);
    }

    /** A string made by the reference implementation: echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e. */
    @Test void verifiesAHashFromTheReferenceImplementation() {
        String phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assertTrue(PasswordHash.verify("password".toCharArray(), phc));
        assertFalse(PasswordHash.verify("Password".toCharArray(), phc));
        assertTrue(PasswordHash.needsRehash(phc), "an 8-byte salt is shorter than ours");
    }

    @Test void roundTripInThePhcFormat() {
        String h = PasswordHash.hash("correct horse battery staple".toCharArray());
        assertTrue(h.matches("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}"), h);
        assertTrue(PasswordHash.verify("correct horse battery staple".toCharArray(), h));
        assertFalse(PasswordHash.verify("correct horse battery stapl".toCharArray(), h));
        assertFalse(PasswordHash.verify("".toCharArray(), h));
        assertFalse(PasswordHash.needsRehash(h));
        assertFalse(PasswordHash.needsRehash(h.replace("m=19456,t=2", "m=65536,t=3")), "stronger than now is fine");
        assertTrue(PasswordHash.needsRehash(h.replace("m=19456", "m=4096")), "less memory than now");
        assertTrue(PasswordHash.needsRehash(h.replace("t=2", "t=1")), "fewer passes than now");
        assertTrue(PasswordHash.needsRehash(h.replace("v=19$", "v=16$")), "the old version");
    }

    @Test void nonAsciiPasswordsAreUtf8() {
        char[] pw = "pässwörd ✓ 𝄞".toCharArray();
        String h = PasswordHash.hash(pw);
        assertTrue(PasswordHash.verify("pässwörd ✓ 𝄞".toCharArray(), h));
        assertFalse(PasswordHash.verify("passwörd ✓ 𝄞".toCharArray(), h));
    }

    @Test void twoHashesOfOnePasswordDifferBySalt() {
        String a = PasswordHash.hash("same".toCharArray());
        String b = PasswordHash.hash("same".toCharArray());
        assertNotEquals(a, b);
        assertNotEquals(a.split("\\$")[4], b.split("\\$")[4], "salts differ");
        assertTrue(PasswordHash.verify("same".toCharArray(), a));
        assertTrue(PasswordHash.verify("same".toCharArray(), b));
    }

    /** Parameters come from the string: a hash made with weaker settings still verifies, and asks to be redone. */
    @Test void parametersAreReadFromTheString() {
        byte[] salt = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
        Argon2Parameters p = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13).withMemoryAsKB(1024).withIterations(1).withParallelism(2)
                .withSalt(salt).build();
        Argon2BytesGenerator gen = new Argon2BytesGenerator();
        gen.init(p);
        byte[] out = new byte[32];
        gen.generateBytes("old secret".getBytes(StandardCharsets.UTF_8), out);
        Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        String phc = "$argon2id$v=19$m=1024,t=1,p=2$" + b64.encodeToString(salt) + "$" + b64.encodeToString(out);
        assertTrue(PasswordHash.verify("old secret".toCharArray(), phc));
        assertFalse(PasswordHash.verify("new secret".toCharArray(), phc));
        assertTrue(PasswordHash.needsRehash(phc));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "plain text",
            "$argon2id$",
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=-1,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZX*hbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29t$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMa",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$extra",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    })
    void malformedHashesAreFalseNeverAnException(String phc) {
        assertFalse(PasswordHash.verify("password".toCharArray(), phc));
        assertTrue(PasswordHash.needsRehash(phc));
    }

    @Test void nullsAreFalse() {
        assertFalse(PasswordHash.verify("password".toCharArray(), null));
        assertFalse(PasswordHash.verify(null, PasswordHash.hash("x".toCharArray())));
    }

    /** The stand-in for unknown names must cost what a real account costs: current parameters, well-formed. */
    @Test void theDummyHashIsCurrent() {
        assertFalse(PasswordHash.needsRehash(SqliteAccounts.DUMMY_HASH));
        assertEquals(PasswordHash.hash("x".toCharArray()).substring(0, 30), SqliteAccounts.DUMMY_HASH.substring(0, 30));
    }
}
