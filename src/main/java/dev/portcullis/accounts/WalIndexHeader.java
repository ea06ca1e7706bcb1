package dev.portcullis.accounts;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The header of a WAL-mode SQLite database's wal-index (its {@code -shm} file), read from memory: it changes
 * with every commit by any connection of any process (its change counter, frame count, salts and checksum;
 * https://www.sqlite.org/walformat.html section 2.1). SQLite's own readers look at the same bytes to see
 * whether their cached pages are still good; here it tells whether lookups made under an earlier header may
 * still be answered from memory, without a query, a lock or a system call.
 *
 * Only the first copy of the header is read (bytes 0-47); a commit rewrites it last, after its frames, so a
 * lookup that begins after a commit returned sees the new header. A read torn by a commit in progress is
 * either the old header (the lookup came just before the commit) or no known header at all.
 */
final class WalIndexHeader {
    /** iVersion, the first field: the only wal-index format there is. */
    static final int WAL_INDEX_VERSION = 3007000;
    private static final int HEADER = 48;

    private final MappedByteBuffer map;

    private WalIndexHeader(MappedByteBuffer map) { this.map = map; }

    /**
     * The header of {@code database}'s wal-index, or null when there is none to read (not in WAL mode, an
     * unknown format): the caller then asks the database each time.
     */
    static WalIndexHeader of(Path database) {
        Path shm = database.resolveSibling(database.getFileName() + "-shm");
        try (FileChannel c = FileChannel.open(shm, StandardOpenOption.READ)) {
            if (c.size() < HEADER) return null;
            MappedByteBuffer map = c.map(FileChannel.MapMode.READ_ONLY, 0, HEADER);   // stays valid after close
            map.order(ByteOrder.nativeOrder());   // SQLite writes it in the machine's byte order
            return map.getInt(0) == WAL_INDEX_VERSION ? new WalIndexHeader(map) : null;
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** The header's bytes now. */
    byte[] read() {
        byte[] now = new byte[HEADER];
        map.get(0, now);
        return now;
    }
}
