package io.quarkiverse.modelsharing.protocol;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * A listening Unix stream socket whose connections are {@link UnixSocket}s, so that they can carry file descriptors.
 * The socket file is made 0600 before anyone can connect: it is bound in a private temporary name and renamed into
 * place.
 */
public final class UnixServerSocket implements AutoCloseable {

    private static final MethodHandle BIND = ForeignCalls.BIND.link();
    private static final MethodHandle LISTEN = ForeignCalls.LISTEN.link();
    private static final MethodHandle ACCEPT4 = ForeignCalls.ACCEPT4.link();

    private final int fd;
    private final Path path;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean accepting = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    private UnixServerSocket(int fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    /** Binds {@code path} with owner-only permissions and listens; a file already there is replaced. */
    public static UnixServerSocket bind(Path path, int backlog) throws IOException {
        return bind(path, backlog, "rw-------");
    }

    /** Binds {@code path} with {@code permissions} (as {@code ls} shows them) and listens. */
    public static UnixServerSocket bind(Path path, int backlog, String permissions) throws IOException {
        int fd = UnixSocket.socket();
        Path binding = path.resolveSibling("." + path.getFileName() + "." + ProcessHandle.current().pid() + ".binding");
        try (Arena call = Arena.ofConfined()) {
            Files.deleteIfExists(binding);
            MemorySegment state = ForeignCalls.callState(call);
            if ((int) BIND.invokeExact(state, fd, UnixSocket.address(call, binding), UnixSocket.SOCKADDR_BYTES) < 0) {
                throw new IOException("Cannot bind " + path + ": " + UnixSocket.describe(ForeignCalls.errno(state)));
            }
            Files.setPosixFilePermissions(binding, PosixFilePermissions.fromString(permissions));
            Files.move(binding, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            if ((int) LISTEN.invokeExact(state, fd, backlog) < 0) {
                throw new IOException("Cannot listen on " + path + ": " + UnixSocket.describe(ForeignCalls.errno(state)));
            }
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
     * kernel does not wake it for a close), then the descriptor is closed. The socket file is left to the caller.
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
    }
}
