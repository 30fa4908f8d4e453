package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A directory that only this process's user can read or change: the shared-memory pools and sockets, and the unpacked
 * ONNX Runtime libraries that every process of the user loads.
 */
public final class PrivateDirectory {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private PrivateDirectory() {
    }

    /** This process's user id. */
    public static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new SharedMemoryException("cannot read this process's user id from /proc/self", e);
        }
    }

    /** This user's directory of the project under {@code base}: {@code <base>/quarkus-model-sharing-<uid>}. */
    public static Path ofUser(Path base) {
        return base.resolve("quarkus-model-sharing-" + uid());
    }

    /**
     * Creates {@code directory} private to this user (0700) if it is missing; otherwise checks that it is a directory
     * (not a link), that it belongs to this user and that no other user could have written into it, then makes it
     * private.
     *
     * @throws IOException saying what is wrong with it, if it cannot be created or is not safe to use
     */
    public static Path prepare(Path directory) throws IOException {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(directory + " exists and is not a directory; remove it");
        }
        int owner = (Integer) Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (owner != uid()) {
            throw new IOException(directory + " belongs to user " + owner + ", not to this process's user "
                    + uid() + "; refusing to use it");
        }
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS);
        if (permissions.contains(PosixFilePermission.GROUP_WRITE) || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException(directory + " is writable by other users (" + PosixFilePermissions.toString(permissions)
                    + "), so its contents cannot be trusted; remove it");
        }
        Files.setPosixFilePermissions(directory, OWNER_ONLY);
        return directory;
    }

    /**
     * Removes {@code directory} if it is empty: the last process that used the per-user directory takes it away. A
     * directory that holds anything (another process's pool file or socket) stays, since the kernel refuses to remove
     * it; a process that prepared it and finds it gone makes it again.
     */
    public static void removeIfEmpty(Path directory) {
        try {
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // not empty: in use
        }
    }

    /** Prepares {@code directory} and makes {@code child} in it, again if another process removed it meanwhile. */
    public static Path prepareChild(Path directory, String child) throws IOException {
        for (int attempt = 0;; attempt++) {
            prepare(directory);
            try {
                Path made = directory.resolve(child);
                if (!Files.isDirectory(made, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(made, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                }
                return made;
            } catch (java.nio.file.NoSuchFileException e) {
                if (attempt >= 3) {
                    throw e;
                }
            }
        }
    }
}
