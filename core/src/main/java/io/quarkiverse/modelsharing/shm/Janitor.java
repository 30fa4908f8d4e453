package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * Removes the named pool files of processes that are gone. A live owner holds an open-file-description lock on each of
 * its files for its whole life; a file nobody holds a lock on belongs to no one. The lock, unlike a pid, means the
 * same in every PID namespace that shares the directory and cannot be reused by another process. Every process with
 * named pools sweeps when it starts and then periodically. (Memfd pools need no janitor: the kernel frees them.)
 */
final class Janitor {

    private static final System.Logger LOG = System.getLogger(Janitor.class.getName());

    private final Path directory;
    private final BooleanSupplier hasFiles;
    /** Names already reported as not ours, so that each is said once, not every period. */
    private final Set<String> skipped = ConcurrentHashMap.newKeySet();
    private volatile boolean missingReported;

    /** @param hasFiles whether this process has named pool files in the directory (so that it must exist) */
    Janitor(Path directory, BooleanSupplier hasFiles) {
        this.directory = directory;
        this.hasFiles = hasFiles;
    }

    /** Deletes the pool files in the directory that no live process holds; returns how many. */
    int sweep() {
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            missingReported = false;
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                boolean pool = PoolFile.NAME.matcher(name).matches();
                if (!pool && !PoolFile.CREATING.matcher(name).matches()) {
                    if (name.startsWith("pool-") && skipped.add(name)) {
                        LOG.log(Level.INFO, "Skipping {0} in {1}: not a pool file name this version knows", name,
                                directory);
                    }
                    continue;
                }
                if (!isHeld(entry)) {
                    PoolFile.deleteQuietly(entry);
                    removed++;
                    LOG.log(Level.DEBUG, "Removed {0}: no live process holds it", entry);
                }
            }
        } catch (NoSuchFileException e) {
            // The last process that used it removes the empty directory: normal, unless this one has files there.
            if (hasFiles.getAsBoolean() && !missingReported) {
                missingReported = true;
                LOG.log(Level.WARNING, "The shared-memory directory " + directory + " was removed with this process's"
                        + " pool files in it; it is made again when this process next needs a named pool file");
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Cannot sweep " + directory + " for the pools of dead processes: " + e);
        }
        return removed;
    }

    /** Whether a live process holds the file's lock; a file that vanished meanwhile counts as held (nothing to do). */
    static boolean isHeld(Path file) {
        // a FIFO or a link planted under a pool's name must not block or redirect the janitor
        int fd = Libc.open(file, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOFOLLOW, 0);
        if (fd < 0) {
            return true;
        }
        try {
            return Libc.isLockedByAnother(fd);
        } finally {
            Libc.close(fd);
        }
    }
}
