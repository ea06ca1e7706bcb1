package dev.portcullis.pop3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.portcullis.testkit.Maildirs;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.eclipse.angus.mail.pop3.POP3Folder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Jakarta Mail's POP3 provider (Angus): store "pop3" with STLS required, and store "pop3s". */
@Timeout(120)
class AngusPop3Test {
    @TempDir Path dir;
    Pop3Fixture f;

    @BeforeEach void start() throws Exception { f = Pop3Fixture.start(dir, null); }

    @AfterEach void stop() { f.close(); }

    Store connect(boolean implicit, String user, String password) throws Exception {
        String proto = implicit ? "pop3s" : "pop3";
        Properties p = new Properties();
        p.put("mail." + proto + ".host", "127.0.0.1");
        p.put("mail." + proto + ".port", Integer.toString(implicit ? f.pop3s : f.pop3));
        p.put("mail." + proto + ".ssl.socketFactory", f.pinned());
        p.put("mail." + proto + ".ssl.checkserveridentity", "false");
        p.put("mail." + proto + ".connectiontimeout", "10000");
        p.put("mail." + proto + ".timeout", "10000");
        if (!implicit) {
            p.put("mail.pop3.starttls.enable", "true");
            p.put("mail.pop3.starttls.required", "true");
        }
        Store store = Session.getInstance(p).getStore(proto);
        store.connect(user, password);
        return store;
    }

    /** Reads every message (subject, body, UID), deletes the first, and closes with expunge (QUIT). */
    List<String> readAndDeleteFirst(boolean implicit) throws Exception {
        Store store = connect(implicit, "alice", "pw");
        List<String> seen = new ArrayList<>();
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_WRITE);
            Message[] messages = inbox.getMessages();
            for (Message m : messages) {
                String uid = ((POP3Folder) inbox).getUID(m);
                seen.add(m.getSubject() + " | " + m.getContent().toString().strip() + " | " + uid + " | " + m.getSize());
            }
            messages[0].setFlag(Flags.Flag.DELETED, true);
            inbox.close(true);
        } finally {
            store.close();
        }
        return seen;
    }

    @Test void readsAndDeletesOverStls() throws Exception {
        f.deliver("alice", "angus one", "first body");
        f.deliver("alice", "angus two", "second body");
        List<String> seen = readAndDeleteFirst(false);
        assertEquals(2, seen.size(), seen.toString());
        assertTrue(seen.get(0).startsWith("angus one | first body | "), seen.toString());
        assertTrue(seen.get(1).startsWith("angus two | second body | "), seen.toString());
        // the UID Jakarta Mail got is the Maildir unique name
        String uid = seen.get(1).split(" \\| ")[2];
        List<Path> cur = Maildirs.list(f.maildir("alice").resolve("cur"));
        assertEquals(List.of(uid + ":2,S"), cur.stream().map(c -> c.getFileName().toString()).toList(),
                "the first deleted, the second read and seen");
        assertEquals(List.of(), Maildirs.newFiles(f.maildir("alice")));
    }

    @Test void readsAndDeletesOverImplicitTls() throws Exception {
        f.deliver("alice", "angus 995", "implicit body");
        List<String> seen = readAndDeleteFirst(true);
        assertTrue(seen.getFirst().startsWith("angus 995 | implicit body | "), seen.toString());
        assertEquals(List.of(), Maildirs.newFiles(f.maildir("alice")));
        assertEquals(List.of(), Maildirs.list(f.maildir("alice").resolve("cur")));
    }

    @Test void aWrongPasswordFailsTheConnect() {
        assertThrows(AuthenticationFailedException.class, () -> connect(false, "alice", "wrong"));
    }
}
