package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** User names and ids, as {@code /etc/passwd} gives them: the kernel tells a worker its peer's uid only. */
final class Users {

    private static final Path PASSWD = Path.of("/etc/passwd");

    private Users() {
    }

    /** The user's name, or "uid N" for a user the passwd file does not list. */
    static String name(int uid) {
        for (String[] entry : entries()) {
            if (entry[2].equals(Integer.toString(uid))) {
                return entry[0];
            }
        }
        return "uid " + uid;
    }

    /** Whether {@code uid} is one of {@code users}, given by name or as a number. */
    static boolean contains(Set<String> users, int uid) {
        if (users.contains(Integer.toString(uid))) {
            return true;
        }
        String name = name(uid);
        return users.contains(name);
    }

    private static List<String[]> entries() {
        try {
            return Files.readAllLines(PASSWD).stream().map(line -> line.split(":", -1)).filter(entry -> entry.length > 2)
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
