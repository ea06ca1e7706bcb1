package dev.portcullis.cli;

import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads a new password for {@code portcullis user}: typed twice at the terminal without echo, or the first line
 * of standard input when that is not a terminal (or when asked to) — never from the command line, where
 * {@code ps} and shell history would show it.
 */
final class PasswordInput {
    /** Why no password could be read; the message is one line for the administrator. */
    static final class Refused extends Exception {
        Refused(String message) { super(message, null, false, false); }
    }

    private PasswordInput() {}

    static char[] read(String account, boolean fromStdin) throws Refused {
        Console console = fromStdin ? null : terminal();
        char[] password = console != null ? prompt(console, account) : firstLine(System.in);
        if (password.length == 0) throw new Refused("an empty password is not allowed");
        return password;
    }

    private static char[] prompt(Console console, String account) throws Refused {
        char[] first = console.readPassword("New password for %s: ", account);
        if (first == null) throw new Refused("no password given");
        char[] second = console.readPassword("Repeat the password: ");
        try {
            if (second == null || !Arrays.equals(first, second)) {
                Arrays.fill(first, '\0');
                throw new Refused("the two passwords differ; nothing changed");
            }
            return first;
        } finally {
            if (second != null) Arrays.fill(second, '\0');
        }
    }

    /**
     * The console when standard input and output are a terminal. From Java 22, System.console() may answer
     * even when they are redirected, and Console.isTerminal() tells; on 21 a non-null console is a terminal.
     */
    private static Console terminal() {
        Console c = System.console();
        if (c == null) return null;
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(c) ? c : null;
        } catch (ReflectiveOperationException e) {
            return c;
        }
    }

    /** The first line, UTF-8, without its CR LF or LF; byte by byte, so nothing after it is consumed. */
    static char[] firstLine(InputStream in) throws Refused {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] bytes = null;
        try {
            int b;
            boolean any = false;
            while ((b = in.read()) != -1 && b != '\n') {
                any = true;
                if (line.size() > 4096) throw new Refused("the password line on standard input is too long");
                line.write(b);
            }
            if (!any && b == -1) throw new Refused("no password on standard input (pipe one line, or run at a terminal)");
            bytes = line.toByteArray();
            int n = bytes.length;
            if (n > 0 && bytes[n - 1] == '\r') n--;
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, n));
            char[] out = new char[chars.remaining()];
            chars.get(out);
            if (chars.hasArray()) Arrays.fill(chars.array(), '\0');
            return out;
        } catch (CharacterCodingException e) {
            throw new Refused("the password on standard input is not valid UTF-8");
        } catch (IOException e) {
            throw new Refused("cannot read standard input: " + e.getMessage());
        } finally {
            if (bytes != null) Arrays.fill(bytes, (byte) 0);
        }
    }
}
