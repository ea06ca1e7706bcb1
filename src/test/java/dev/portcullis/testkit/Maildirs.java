package dev.portcullis.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Reading Maildirs from tests: {@code <maildir>/new} files and their contents. */
public final class Maildirs {
    private Maildirs() {}

    public static List<Path> newFiles(Path maildir) { return list(maildir.resolve("new")); }

    public static List<Path> list(Path folder) {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static List<String> read(List<Path> files) {
        List<String> out = new ArrayList<>();
        for (Path f : files) {
            try {
                out.add(new String(Files.readAllBytes(f), StandardCharsets.UTF_8)); // malformed bytes replaced, never thrown
            } catch (NoSuchFileException e) {
                // moved to cur/ by a reader meanwhile: not in new/ any more
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }
}
