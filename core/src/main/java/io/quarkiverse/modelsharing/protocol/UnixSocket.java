package io.quarkiverse.modelsharing.protocol;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.SocketTimeoutException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * A connected Unix stream socket through the FFM API, because the JDK's {@code SocketChannel} cannot pass file
 * descriptors: {@link #write} can attach one ({@code SCM_RIGHTS}), and {@link #read} collects those that arrive for
 * {@link #takeDescriptor()}. Blocking, one reader and one writer at a time; {@link #close()} from any thread wakes
 * both ({@code shutdown}) and closes the descriptor once neither uses it, so that a number the kernel reuses is never
 * read or written by mistake.
 */
public final class UnixSocket implements AutoCloseable {

    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 02000000;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int ECONNREFUSED = 111;
    private static final int ENOENT = 2;
    static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int SO_PEERCRED = 17;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_DONTWAIT = 0x40;
    static final int EAGAIN = 11;
    static final short POLLIN = 1, POLLOUT = 4;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SHUT_RDWR = 2;
    static final int EINTR = 4;
    /** {@code struct sockaddr_un}: a 2-byte family and 108 bytes of path, NUL-terminated. */
    static final int SOCKADDR_BYTES = 110;
    /** {@code struct msghdr} (56 bytes) + one {@code struct iovec} (16) + room for a control message of 8 fds. */
    private static final long MSGHDR = 0, IOVEC = 56, CONTROL = 72, CONTROL_BYTES = 16 + 8 * 4, MESSAGE_BYTES = 128;
    /** A peer sends at most this many descriptors before the frames that take them. */
    static final int MAX_PENDING_DESCRIPTORS = 8;
    private static final int CLOSED = 1 << 30;

    static final MethodHandle SOCKET = ForeignCalls.SOCKET.link();
    static final MethodHandle CONNECT = ForeignCalls.CONNECT.link();
    private static final MethodHandle SENDMSG = ForeignCalls.SENDMSG.link();
    private static final MethodHandle RECVMSG = ForeignCalls.RECVMSG.link();
    static final MethodHandle SHUTDOWN = ForeignCalls.SHUTDOWN.link();
    static final MethodHandle CLOSE = ForeignCalls.CLOSE.link();
    private static final MethodHandle GETSOCKOPT = ForeignCalls.GETSOCKOPT.link();
    static final MethodHandle POLL = ForeignCalls.POLL.link();
    private static final MethodHandle FCNTL = ForeignCalls.FCNTL_INT.link();

    /** The peer's process, user and group, as the kernel saw them when the connection was made. */
    public record Credentials(long pid, int uid, int gid) {
    }

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment readMessage = arena.allocate(MESSAGE_BYTES, 8);
    private final MemorySegment writeMessage = arena.allocate(MESSAGE_BYTES, 8);
    private final MemorySegment readState = ForeignCalls.callState(arena);
    private final MemorySegment readPoll = arena.allocate(8, 4);
    private final MemorySegment writeState = ForeignCalls.callState(arena);
    private final ArrayDeque<Integer> received = new ArrayDeque<>();
    /** Calls in progress, plus {@link #CLOSED} once closing began. */
    private final AtomicInteger users = new AtomicInteger();
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile boolean truncatedControl;

    UnixSocket(int fd) {
        this.fd = fd;
    }

    /** Connects to the socket at {@code path}. */
    public static UnixSocket connect(Path path) throws IOException {
        int fd = socket();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(call);
            for (;;) {
                int result = (int) CONNECT.invokeExact(state, fd, address(call, path), SOCKADDR_BYTES);
                if (result == 0) {
                    return new UnixSocket(fd);
                }
                int errno = ForeignCalls.errno(state);
                if (errno != EINTR) {
                    closeQuietly(fd);
                    throw new IOException(describe(errno) + " (connecting to " + path + ")");
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            closeQuietly(fd);
            throw new IOException("connecting to " + path + " failed", e);
        }
    }

    /**
     * Whether a process may listen on {@code path}, asked without blocking: a connection that would have to wait in a
     * full backlog ({@code EAGAIN}) means a listener all the same (busy, or stuck), and so does an error that tells
     * nothing (no descriptor left); only a refusal or no such file means none. A blocking connect would wait for a stuck
     * listener, and one that fails on a full backlog would take a busy one for dead.
     */
    static boolean listens(Path path) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment address = address(call, path);
            MemorySegment state = ForeignCalls.callState(call);
            int fd = (int) SOCKET.invokeExact(state, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0) {
                return true; // out of descriptors, say: unknown, so taken for a listener, never replaced
            }
            try {
                for (;;) {
                    if ((int) CONNECT.invokeExact(state, fd, address, SOCKADDR_BYTES) == 0) {
                        return true;
                    }
                    int errno = ForeignCalls.errno(state);
                    if (errno != EINTR) {
                        // only a refusal, or no file, says nobody listens; anything else (a full backlog, a
                        // permission) leaves a listener possible
                        return errno != ECONNREFUSED && errno != ENOENT;
                    }
                }
            } finally {
                closeQuietly(fd);
            }
        } catch (IOException e) {
            return false; // a path no socket can have (too long): nobody listens there
        } catch (Throwable e) {
            return true;
        }
    }

    static int socket() throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(call);
            int fd = (int) SOCKET.invokeExact(state, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("Cannot create a Unix socket: " + describe(ForeignCalls.errno(state)));
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("socket() failed", e);
        }
    }

    static MemorySegment address(Arena arena, Path path) throws IOException {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= SOCKADDR_BYTES - 2) {
            throw new IOException("The socket path " + path + " is " + bytes.length + " bytes; Unix sockets allow "
                    + (SOCKADDR_BYTES - 3));
        }
        MemorySegment address = arena.allocate(SOCKADDR_BYTES, 2);
        address.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, address, JAVA_BYTE, 2, bytes.length);
        return address;
    }

    /** The peer's credentials ({@code SO_PEERCRED}). */
    public Credentials peer() throws IOException {
        enter();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment credentials = call.allocate(12, 4);
            MemorySegment length = call.allocate(JAVA_INT);
            length.set(JAVA_INT, 0, 12);
            MemorySegment state = ForeignCalls.callState(call);
            int result = (int) GETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_PEERCRED, credentials, length);
            if (result < 0) {
                throw new IOException("Cannot read the peer's credentials: " + describe(ForeignCalls.errno(state)));
            }
            return new Credentials(credentials.get(JAVA_INT, 0), credentials.get(JAVA_INT, 4),
                    credentials.get(JAVA_INT, 8));
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("getsockopt failed", e);
        } finally {
            exit();
        }
    }

    /**
     * Reads up to {@code length} bytes into {@code into} at {@code offset}; returns how many, or -1 at the end of the
     * stream. Descriptors that arrive with them are kept for {@link #takeDescriptor()}.
     */
    public int read(MemorySegment into, long offset, int length) throws IOException {
        return read(into, offset, length, 0);
    }

    /**
     * As {@link #read(MemorySegment, long, int)}, waiting at most {@code timeoutMillis} for the first byte (0: as long
     * as it takes).
     *
     * @throws SocketTimeoutException if no byte came in time
     */
    public int read(MemorySegment into, long offset, int length, long timeoutMillis) throws IOException {
        enter();
        try {
            // with a timeout: take what is there without waiting, and only if nothing is, wait at most the timeout
            boolean waited = timeoutMillis <= 0;
            for (;;) {
                readMessage.fill((byte) 0);
                readMessage.set(ADDRESS, IOVEC, into.asSlice(offset, length));
                readMessage.set(JAVA_LONG, IOVEC + 8, length);
                readMessage.set(ADDRESS, MSGHDR + 16, readMessage.asSlice(IOVEC, 16));
                readMessage.set(JAVA_LONG, MSGHDR + 24, 1);
                readMessage.set(ADDRESS, MSGHDR + 32, readMessage.asSlice(CONTROL, CONTROL_BYTES));
                readMessage.set(JAVA_LONG, MSGHDR + 40, CONTROL_BYTES);
                long count = (long) RECVMSG.invokeExact(readState, fd, readMessage.asSlice(MSGHDR, 56),
                        MSG_CMSG_CLOEXEC | (waited ? 0 : MSG_DONTWAIT));
                if (count < 0) {
                    int errno = ForeignCalls.errno(readState);
                    if (errno == EINTR) {
                        continue;
                    }
                    if (errno == EAGAIN && !waited) {
                        if (!ready(readPoll, readState, POLLIN, timeoutMillis)) {
                            throw new SocketTimeoutException("no byte arrived within " + timeoutMillis + " ms");
                        }
                        waited = true;
                        continue;
                    }
                    throw closing() ? new AsynchronousCloseException() : new IOException(describe(errno));
                }
                collectDescriptors();
                if (count == 0) {
                    return -1;
                }
                return (int) count;
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("recvmsg failed", e);
        } finally {
            exit();
        }
    }

    private void collectDescriptors() {
        if ((readMessage.get(JAVA_INT, MSGHDR + 48) & MSG_CTRUNC) != 0) {
            truncatedControl = true;
        }
        long controlLength = readMessage.get(JAVA_LONG, MSGHDR + 40);
        long at = 0;
        while (at + 16 <= controlLength) {
            long length = readMessage.get(JAVA_LONG, CONTROL + at);
            int level = readMessage.get(JAVA_INT, CONTROL + at + 8);
            int type = readMessage.get(JAVA_INT, CONTROL + at + 12);
            if (length < 16 || at + length > controlLength) {
                break;
            }
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                for (long data = 16; data + 4 <= length; data += 4) {
                    int descriptor = readMessage.get(JAVA_INT, CONTROL + at + data);
                    synchronized (received) {
                        if (received.size() < MAX_PENDING_DESCRIPTORS) {
                            received.add(descriptor);
                            continue;
                        }
                    }
                    // more than any frame takes: a peer filling this process's descriptor table
                    closeQuietly(descriptor);
                    truncatedControl = true;
                }
            }
            at += (length + 7) & -8L;
        }
    }

    /** The oldest descriptor received and not taken yet, or -1; the caller owns (and closes) it. */
    public int takeDescriptor() {
        synchronized (received) {
            Integer next = received.poll();
            return next == null ? -1 : next;
        }
    }

    /** Descriptors received and not taken. */
    public int pendingDescriptors() {
        synchronized (received) {
            return received.size();
        }
    }

    /** Whether the kernel dropped descriptors because the peer sent more at once than this side takes. */
    public boolean droppedDescriptors() {
        return truncatedControl;
    }

    /**
     * Waits until the socket can be read ({@link #POLLIN}) or written ({@link #POLLOUT}), at most {@code timeoutMillis};
     * returns whether it can. A closed or broken socket counts as ready: the next call says what is wrong.
     */
    private boolean ready(MemorySegment poll, MemorySegment state, short events, long timeoutMillis) throws Throwable {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        for (;;) {
            poll.set(JAVA_INT, 0, fd);
            poll.set(JAVA_SHORT, 4, events);
            poll.set(JAVA_SHORT, 6, (short) 0);
            long left = Math.max(0, (deadline - System.nanoTime()) / 1_000_000);
            int result = (int) POLL.invokeExact(state, poll, 1L, (int) Math.min(left, Integer.MAX_VALUE));
            if (result > 0) {
                return true;
            }
            if (result == 0 || ForeignCalls.errno(state) != EINTR) {
                return result != 0 && !closing();
            }
        }
    }

    /**
     * Writes what the socket takes now of {@code length} bytes of {@code from} from {@code offset}, without waiting;
     * {@code descriptor} (if not -1) goes with the first byte. Returns how many bytes it took (0 if none).
     */
    public long writeSome(MemorySegment from, long offset, long length, int descriptor) throws IOException {
        return send(from, offset, length, descriptor, MSG_DONTWAIT);
    }

    /** Writes {@code length} bytes of {@code from}, all of them; {@code descriptor} (if not -1) goes with the first. */
    public void write(MemorySegment from, long length, int descriptor) throws IOException {
        send(from, 0, length, descriptor, 0);
    }

    /** Sends bytes until all are sent, or, with {@link #MSG_DONTWAIT}, until the socket takes no more; returns how many. */
    private long send(MemorySegment from, long offset, long length, int descriptor, int flags) throws IOException {
        enter();
        try {
            synchronized (writeMessage) {
                long done = 0;
                while (done < length) {
                    writeMessage.fill((byte) 0);
                    writeMessage.set(ADDRESS, IOVEC, from.asSlice(offset + done, length - done));
                    writeMessage.set(JAVA_LONG, IOVEC + 8, length - done);
                    writeMessage.set(ADDRESS, MSGHDR + 16, writeMessage.asSlice(IOVEC, 16));
                    writeMessage.set(JAVA_LONG, MSGHDR + 24, 1);
                    if (descriptor >= 0 && done == 0) {
                        writeMessage.set(JAVA_LONG, CONTROL, 16 + 4);
                        writeMessage.set(JAVA_INT, CONTROL + 8, SOL_SOCKET);
                        writeMessage.set(JAVA_INT, CONTROL + 12, SCM_RIGHTS);
                        writeMessage.set(JAVA_INT, CONTROL + 16, descriptor);
                        writeMessage.set(ADDRESS, MSGHDR + 32, writeMessage.asSlice(CONTROL, 24));
                        writeMessage.set(JAVA_LONG, MSGHDR + 40, 24);
                    }
                    long count = (long) SENDMSG.invokeExact(writeState, fd, writeMessage.asSlice(MSGHDR, 56),
                            MSG_NOSIGNAL | flags);
                    if (count < 0) {
                        int errno = ForeignCalls.errno(writeState);
                        if (errno == EINTR) {
                            continue;
                        }
                        if (errno == EAGAIN && (flags & MSG_DONTWAIT) != 0) {
                            return done;
                        }
                        throw closing() ? new AsynchronousCloseException() : new IOException(describe(errno));
                    }
                    done += count;
                }
                return done;
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("sendmsg failed", e);
        } finally {
            exit();
        }
    }

    private void enter() throws IOException {
        for (;;) {
            int current = users.get();
            if ((current & CLOSED) != 0) {
                throw new ClosedChannelException();
            }
            if (users.compareAndSet(current, current + 1)) {
                return;
            }
        }
    }

    private void exit() {
        if (users.decrementAndGet() == CLOSED) {
            release();
        }
    }

    private boolean closing() {
        return (users.get() & CLOSED) != 0;
    }

    int descriptor() {
        return fd;
    }

    public boolean isOpen() {
        return !closing();
    }

    /** Wakes every thread blocked on the socket; the descriptor is closed when the last of them has returned. */
    @Override
    public void close() {
        for (;;) {
            int current = users.get();
            if ((current & CLOSED) != 0) {
                return;
            }
            // closing counts as a use until shutdown is done, so that the number cannot be reused under it
            if (users.compareAndSet(current, (current + 1) | CLOSED)) {
                break;
            }
        }
        try {
            int ignored = (int) SHUTDOWN.invokeExact(fd, SHUT_RDWR);
        } catch (Throwable e) {
            // closing anyway
        } finally {
            exit();
        }
    }

    private void release() {
        if (released.compareAndSet(false, true)) {
            closeQuietly(fd);
            for (int descriptor = takeDescriptor(); descriptor >= 0; descriptor = takeDescriptor()) {
                closeQuietly(descriptor);
            }
            arena.close();
        }
    }

    /** A second descriptor of the same open file, closed on exec, for a frame that waits to be sent. */
    static int duplicate(int fd) throws IOException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(call);
            int copy = (int) FCNTL.invokeExact(state, fd, 1030 /* F_DUPFD_CLOEXEC */, 0);
            if (copy < 0) {
                throw new IOException("Cannot duplicate a descriptor to send: " + describe(ForeignCalls.errno(state)));
            }
            return copy;
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("fcntl failed", e);
        }
    }

    /** Closes a file descriptor received with a frame, or made to be sent with one. */
    public static void closeDescriptor(int fd) {
        closeQuietly(fd);
    }

    static void closeQuietly(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable e) {
            // nothing more to do
        }
    }

    static String describe(int errno) {
        return switch (errno) {
            case 2 -> "No such file or directory";
            case 13 -> "Permission denied";
            case 32 -> "Broken pipe";
            case 104 -> "Connection reset by peer";
            case 111 -> "Connection refused";
            case 98 -> "Address already in use";
            default -> "errno " + errno;
        };
    }
}
