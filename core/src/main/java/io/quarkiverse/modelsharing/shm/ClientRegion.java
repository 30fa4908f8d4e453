package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.regex.Pattern;

import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A region of a shared-memory file that a client on the same host registered by name, as the Open Inference
 * Protocol's system shared-memory extension does: a POSIX shared-memory key ({@code /name}, a file in the
 * shared-memory directory), an offset and a size.
 * <p>
 * The same rules hold as for the project's own descriptors: the file is opened without following links, must be a
 * regular file owned by this process's user, and the region must lie inside it, at registration and again at every
 * read and write. The region is never mapped: tensors are read and written through the file descriptor, so a client
 * that shrinks its file under a request gets an error, never a SIGBUS in this process.
 */
public final class ClientRegion implements AutoCloseable {

    private static final Pattern KEY = Pattern.compile("/?[A-Za-z0-9._-]{1,200}");
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;

    private final String name;
    private final String key;
    private final long offset;
    private final long byteSize;
    private final FileChannel channel;

    private ClientRegion(String name, String key, long offset, long byteSize, FileChannel channel) {
        this.name = name;
        this.key = key;
        this.offset = offset;
        this.byteSize = byteSize;
        this.channel = channel;
    }

    /**
     * Opens a client's region.
     *
     * @param directory where POSIX shared memory lives, {@code /dev/shm}
     * @throws SharedMemoryException naming what is wrong: a key that is not a plain name, a missing file, a link, a
     *         file that is not regular or belongs to another user, or a region outside the file
     */
    public static ClientRegion open(Path directory, String name, String key, long offset, long byteSize) {
        if (key == null || !KEY.matcher(key).matches() || key.replace("/", "").matches("\\.+")) {
            throw new SharedMemoryException("Region '" + name + "': key '" + key + "' is not a shared-memory name: a"
                    + " '/' then up to 200 letters, digits, '.', '_' or '-', naming a file in " + directory);
        }
        if (offset < 0 || byteSize <= 0) {
            throw new SharedMemoryException("Region '" + name + "': offset " + offset + " and byte_size " + byteSize
                    + " do not make a region: the offset is 0 or more and the size more than 0");
        }
        Path file = directory.resolve(key.startsWith("/") ? key.substring(1) : key);
        int fd = Libc.open(file, Libc.O_RDWR | Libc.O_NOFOLLOW | Libc.O_NONBLOCK, 0);
        if (fd < 0) {
            throw new SharedMemoryException("Region '" + name + "': " + file + " cannot be opened (errno " + -fd + ", "
                    + switch (-fd) {
                        case Libc.ENOENT -> "no such file";
                        case 40 -> "a symbolic link, which is never followed";
                        case 13 -> "permission denied";
                        default -> "see open(2)";
                    } + ")");
        }
        try {
            // The opened file itself, not whatever the name points to now: /proc/self/fd/N is the open description.
            Path opened = Path.of("/proc/self/fd/" + fd);
            Map<String, Object> attributes = Files.readAttributes(opened, "unix:mode,uid,size");
            int mode = (Integer) attributes.get("mode");
            int owner = (Integer) attributes.get("uid");
            long size = (Long) attributes.get("size");
            if ((mode & S_IFMT) != S_IFREG) {
                throw new SharedMemoryException("Region '" + name + "': " + file + " is not a regular file");
            }
            int self = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            if (owner != self) {
                throw new SharedMemoryException("Region '" + name + "': " + file + " belongs to uid " + owner
                        + ", not to this server's user (uid " + self + "): only its own user's regions are read");
            }
            checkInside(name, file.toString(), offset, byteSize, size);
            FileChannel channel = FileChannel.open(opened, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return new ClientRegion(name, key, offset, byteSize, channel);
        } catch (IOException e) {
            throw new SharedMemoryException("Region '" + name + "': " + file + " cannot be read: " + e.getMessage(), e);
        } finally {
            Libc.close(fd);
        }
    }

    private static void checkInside(String name, String file, long offset, long byteSize, long fileSize) {
        if (offset > fileSize || byteSize > fileSize - offset) {
            throw new SharedMemoryException("Region '" + name + "': bytes " + offset + " to " + (offset + byteSize)
                    + " are outside " + file + ", which holds " + fileSize + " bytes");
        }
    }

    public String name() {
        return name;
    }

    public String key() {
        return key;
    }

    public long offset() {
        return offset;
    }

    public long byteSize() {
        return byteSize;
    }

    /**
     * Reads {@code into.byteSize()} bytes at {@code at} (from the region's start) into the tensor.
     *
     * @throws SharedMemoryException if they are outside the region, or the file is shorter now than the region
     */
    public void read(long at, Tensor into) {
        long bytes = into.byteSize();
        ByteBuffer buffer = span(at, bytes, into);
        try {
            long position = offset + at;
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, position + buffer.position()) < 0) {
                    throw new SharedMemoryException("Region '" + name + "' ended after " + buffer.position() + " of the "
                            + bytes + " bytes to read: its file was shrunk");
                }
            }
        } catch (IOException e) {
            throw new SharedMemoryException("Region '" + name + "' cannot be read: " + e.getMessage(), e);
        }
    }

    /** Writes the tensor's bytes at {@code at} (from the region's start). */
    public void write(long at, Tensor from) {
        ByteBuffer buffer = span(at, from.byteSize(), from);
        try {
            long position = offset + at;
            while (buffer.hasRemaining()) {
                channel.write(buffer, position + buffer.position());
            }
        } catch (IOException e) {
            throw new SharedMemoryException("Region '" + name + "' cannot be written: " + e.getMessage(), e);
        }
    }

    /**
     * Checks that {@code bytes} at {@code at} (from the region's start) lie inside the region, and the region inside
     * its file as it is now: before allocating for a tensor whose size is only a client's claim.
     *
     * @throws SharedMemoryException if they do not
     */
    public void checkSpan(long at, long bytes) {
        if (at < 0 || bytes < 0 || at > byteSize || bytes > byteSize - at) {
            throw new SharedMemoryException("Bytes " + at + " to " + (at + bytes) + " are outside region '" + name
                    + "', which holds " + byteSize + " bytes");
        }
        try {
            checkInside(name, key, offset, byteSize, channel.size());
        } catch (IOException e) {
            throw new SharedMemoryException("Region '" + name + "' cannot be read: " + e.getMessage(), e);
        }
    }

    private ByteBuffer span(long at, long bytes, Tensor tensor) {
        checkSpan(at, bytes);
        return tensor.directBuffer().duplicate().clear();
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing is left to release
        }
    }
}
