package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;

/**
 * Removes the pool files of processes that are gone. Every process that uses shared memory sweeps its pool
 * directory when it starts and then periodically, so that a crashed process's memory comes back within a period.
 */
final class Janitor {

    private static final System.Logger LOG = System.getLogger(Janitor.class.getName());

    private Janitor() {
    }

    /** Deletes the pool files in {@code directory} whose owner is no longer running; returns how many. */
    static int sweep(Path directory) {
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "pool-*.shm")) {
            for (Path file : files) {
                Matcher name = PoolFile.NAME.matcher(file.getFileName().toString());
                if (name.matches()
                        && !new ProcessIdentity(Long.parseLong(name.group(2)), Long.parseLong(name.group(3))).isAlive()) {
                    PoolFile.deleteQuietly(file);
                    removed++;
                    LOG.log(Level.DEBUG, "Removed {0}: its owner, process {1}, is gone", file, name.group(2));
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot sweep " + directory + " for the pools of dead processes", e);
        }
        return removed;
    }
}
