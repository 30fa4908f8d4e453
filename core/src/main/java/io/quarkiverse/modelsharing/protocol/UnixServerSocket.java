package io.quarkiverse.modelsharing.protocol;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.channels.ClosedChannelException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * A listening Unix stream socket whose connections are {@link UnixSocket}s, so that they can carry file descriptors.
 * The socket file has its permissions (0600 unless said otherwise) and listens before anyone can connect: it is bound
 * in a private temporary name and linked into place, never over a live socket.
 */
public final class UnixServerSocket implements AutoCloseable {

    private static final MethodHandle BIND = ForeignCalls.BIND.link();
    /** Numbers this process's temporary names, so that two threads binding the same path do not share one. */
    private static final java.util.concurrent.atomic.AtomicLong BINDINGS = new java.util.concurrent.atomic.AtomicLong();
    private static final MethodHandle LISTEN = ForeignCalls.LISTEN.link();
    private static final MethodHandle ACCEPT4 = ForeignCalls.ACCEPT4.link();

    private final int fd;
    private final Path path;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean accepting = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    /** The socket file's identity once placed: close removes the file at {@link #path} only if it is still this. */
    private final Object fileKey;

    private UnixServerSocket(int fd, Path path) {
        this.fd = fd;
        this.path = path;
        this.fileKey = fileKey(path);
    }

    /** Binds {@code path} with owner-only permissions and listens, as {@link #bind(Path, int, String)} does. */
    public static UnixServerSocket bind(Path path, int backlog) throws IOException {
        return bind(path, backlog, "rw-------");
    }

    /**
     * Binds {@code path} with {@code permissions} (as {@code ls} shows them) and listens. The socket is made under a
     * name of this process, given its permissions, listens, and only then appears at {@code path} (a hard link, which
     * never replaces a file): a client never finds it refusing connections or with wider permissions, and of two
     * processes that bind the same path at the same moment, one wins and the other is told. A socket file that nobody
     * listens on (its process died) is replaced.
     *
     * @throws SocketInUseException if another process listens on {@code path}
     */
    public static UnixServerSocket bind(Path path, int backlog, String permissions) throws IOException {
        int fd = UnixSocket.socket();
        Path binding = path.resolveSibling("." + path.getFileName() + "." + ProcessHandle.current().pid() + "-"
                + BINDINGS.incrementAndGet() + ".binding");
        try (Arena call = Arena.ofConfined()) {
            Files.deleteIfExists(binding);
            MemorySegment state = ForeignCalls.callState(call);
            if ((int) BIND.invokeExact(state, fd, UnixSocket.address(call, binding), UnixSocket.SOCKADDR_BYTES) < 0) {
                throw new IOException("Cannot bind " + path + ": " + UnixSocket.describe(ForeignCalls.errno(state)));
            }
            Files.setPosixFilePermissions(binding, PosixFilePermissions.fromString(permissions));
            if ((int) LISTEN.invokeExact(state, fd, backlog) < 0) {
                throw new IOException("Cannot listen on " + path + ": " + UnixSocket.describe(ForeignCalls.errno(state)));
            }
            placeAt(path, binding);
            return new UnixServerSocket(fd, path);
        } catch (IOException e) {
            UnixSocket.closeQuietly(fd);
            Files.deleteIfExists(binding);
            throw e;
        } catch (Throwable e) {
            UnixSocket.closeQuietly(fd);
            Files.deleteIfExists(binding);
            throw new IOException("binding " + path + " failed", e);
        }
    }

    /** Links the listening {@code binding} to {@code path} unless a live socket is there, and removes its own name. */
    private static void placeAt(Path path, Path binding) throws IOException {
        for (int attempt = 1;; attempt++) {
            try {
                Files.createLink(path, binding);
                Files.delete(binding);
                return;
            } catch (FileAlreadyExistsException e) {
                Object stale = fileKey(path);
                if (stale == null) {
                    continue; // removed meanwhile: link again
                }
                if (!isSocket(path)) {
                    throw new IOException("Cannot listen on " + path + ": something that is not a socket is there;"
                            + " remove it, or choose another path");
                }
                if (answers(path)) {
                    throw new SocketInUseException("Another process listens on " + path);
                }
                if (attempt == 5) {
                    throw new IOException("Cannot listen on " + path + ": its dead socket was replaced by others five"
                            + " times while this process tried");
                }
                // Nobody listens: a dead process's file. Removed only if it is still that file, so that a socket that
                // another process placed meanwhile is not removed (what is left between the check and the delete is
                // a window of two system calls, not of a connection attempt).
                if (stale.equals(fileKey(path))) {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    private static boolean isSocket(Path path) {
        try {
            return ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0140000; // S_IFSOCK
        } catch (IOException | RuntimeException e) {
            return true; // gone meanwhile: the next link attempt says
        }
    }

    private static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Whether a process listens on {@code socket}; never blocks ({@link UnixSocket#listens}). */
    public static boolean answers(Path socket) {
        return UnixSocket.listens(socket);
    }

    /** Another process listens on the path a server socket was to bind. */
    public static final class SocketInUseException extends IOException {
        SocketInUseException(String message) {
            super(message);
        }
    }

    public Path path() {
        return path;
    }

    /** The next connection; blocks until one comes. */
    public UnixSocket accept() throws IOException {
        if (!accepting.compareAndSet(false, true)) {
            throw new IllegalStateException("one thread accepts at a time");
        }
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(call);
            for (;;) {
                if (closed) {
                    throw new ClosedChannelException();
                }
                int connection = (int) ACCEPT4.invokeExact(state, fd, MemorySegment.NULL, MemorySegment.NULL,
                        UnixSocket.SOCK_CLOEXEC);
                if (connection >= 0) {
                    if (closed) {
                        UnixSocket.closeQuietly(connection);
                        throw new ClosedChannelException();
                    }
                    return new UnixSocket(connection);
                }
                int errno = ForeignCalls.errno(state);
                if (closed) {
                    throw new ClosedChannelException();
                }
                if (errno != UnixSocket.EINTR && errno != 103 /* ECONNABORTED */) {
                    throw new IOException("accept on " + path + " failed: " + UnixSocket.describe(errno));
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("accept4 failed", e);
        } finally {
            accepting.set(false);
            if (closed) {
                release();
            }
        }
    }

    private void release() {
        if (released.compareAndSet(false, true)) {
            UnixSocket.closeQuietly(fd);
        }
    }

    /**
     * Stops accepting: a thread blocked in {@link #accept()} is woken by a connection of this process's own (the
     * kernel does not wake it for a close), then the descriptor is closed, and the socket file removed unless another
     * process's socket has replaced it meanwhile.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            int ignored = (int) UnixSocket.SHUTDOWN.invokeExact(fd, 2);
        } catch (Throwable e) {
            // waking it by connecting below
        }
        try (UnixSocket wake = UnixSocket.connect(path)) {
            // accept() returns it and sees the flag
        } catch (IOException e) {
            // nobody listens any more: nothing to wake
        }
        if (!accepting.get()) {
            release(); // else the accepting thread closes it on its way out
        }
        Object now = fileKey(path);
        if (now != null && now.equals(fileKey)) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // its directory went first: nothing to remove
            }
        }
    }
}
