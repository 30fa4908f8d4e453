package io.quarkiverse.modelsharing.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Frames over a connected {@link UnixSocket}: whole frames in, whole frames out, writes serialized so that concurrent
 * responses never interleave. A {@link Frame.SharePool} carries its pool's file descriptor beside its bytes; a
 * descriptor that arrives with any other frame, or more descriptors than frames to take them, is a protocol error
 * (and closed).
 * <p>
 * Bounded against a peer that misbehaves (see {@link Limits}): a frame's buffer grows as its bytes arrive, never ahead
 * of them, and large buffers draw on a budget shared by every channel of the process; a frame that stalls midway, or
 * no frame for the idle timeout, ends the connection. Writes never wait on the peer: what the socket does not take at
 * once waits in this channel's outbound queue, which the {@link Flusher} drains; a peer that takes nothing for the
 * write deadline, or lets the queue grow past its bound, is disconnected.
 */
public final class FrameChannel implements AutoCloseable {

    /** Frames up to this size are read and written through buffers kept for the connection. */
    private static final int KEPT_BUFFER_BYTES = 8 << 10;

    /**
     * How a channel bounds its peer.
     *
     * @param idleTimeout longest wait for a frame to begin (zero: no limit)
     * @param frameTimeout longest wait for the next bytes of a frame that has begun
     * @param writeDeadline longest a peer may leave output unread before it is disconnected
     * @param maxQueuedBytes most bytes that may wait in the outbound queue
     * @param budget the bytes that large incoming frames of every channel sharing it may hold at once
     */
    public record Limits(Duration idleTimeout, Duration frameTimeout, Duration writeDeadline, long maxQueuedBytes,
            ByteBudget budget) {

        /** A client's: no idle limit, 30 s per frame and for output, 256 MiB queued, no budget. */
        public static Limits client() {
            return new Limits(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(30), 256L << 20,
                    new ByteBudget(Long.MAX_VALUE));
        }
    }

    private final UnixSocket socket;
    private final FrameCodec codec;
    private final Limits limits;
    private final ReentrantLock writing = new ReentrantLock();
    private final MemorySegment readBuffer = Arena.ofAuto().allocate(KEPT_BUFFER_BYTES, 64);
    private final MemorySegment writeBuffer = Arena.ofAuto().allocate(KEPT_BUFFER_BYTES, 64);
    /** Output the socket has not taken yet, in order; guarded by {@link #writing}. */
    private final ArrayDeque<Pending> outbound = new ArrayDeque<>();
    private long queuedBytes; // guarded by writing
    private long stalledSince; // guarded by writing: when the queue last stopped draining, 0 if empty
    private long frameDeadline; // the reading thread's: when the frame being read must be whole
    private Arena largeArena; // the reading thread's: the memory of the large frame being read
    private volatile Runnable onStall = () -> {
    };

    public FrameChannel(UnixSocket socket, FrameCodec codec) {
        this(socket, codec, Limits.client());
    }

    public FrameChannel(UnixSocket socket, FrameCodec codec, Limits limits) {
        this.socket = socket;
        this.codec = codec;
        this.limits = limits;
    }

    public UnixSocket socket() {
        return socket;
    }

    /** Runs when the peer is disconnected for leaving output unread (the channel is closed already). */
    public void onStall(Runnable action) {
        this.onStall = action;
    }

    /** The next frame; blocks until one arrives, at most the idle timeout, and each part of it the frame timeout. */
    public Frame read() throws IOException {
        return read(limits.idleTimeout());
    }

    /**
     * The next frame, which must begin within {@code timeout} (zero: no limit), e.g. a hello; once it has begun, all
     * of it must arrive within the frame timeout, however the peer trickles it.
     */
    public Frame read(Duration timeout) throws IOException {
        readFully(readBuffer, 0, 1, timeout.toMillis() > 0 ? System.nanoTime() + timeout.toNanos() : 0);
        frameDeadline = System.nanoTime() + limits.frameTimeout().toNanos();
        readFully(readBuffer, 1, FrameCodec.HEADER_BYTES - 1, frameDeadline);
        int length = codec.payloadLength(readBuffer.asSlice(0, FrameCodec.HEADER_BYTES).asByteBuffer());
        long total = FrameCodec.HEADER_BYTES + (long) length;
        MemorySegment frame = total <= KEPT_BUFFER_BYTES ? readBuffer : readLarge(total);
        if (frame == readBuffer) {
            readFully(frame, FrameCodec.HEADER_BYTES, length, frameDeadline);
        }
        Frame decoded;
        try {
            decoded = codec.decode(frame.asSlice(0, total).asByteBuffer()); // copies out what it keeps
        } finally {
            if (frame != readBuffer) {
                limits.budget().release(frame.byteSize());
                largeArena.close(); // freed now, not when a collection gets to it
                largeArena = null;
            }
        }
        if (socket.droppedDescriptors()) {
            closeDescriptors();
            throw new ProtocolException("the peer sent more file descriptors at once than a frame takes");
        }
        if (decoded instanceof Frame.SharePool share) {
            int descriptor = socket.takeDescriptor();
            if (descriptor < 0) {
                throw new ProtocolException("a share-pool frame for pool " + share.poolId() + " came without its file"
                        + " descriptor");
            }
            decoded = new Frame.SharePool(share.requestId(), share.poolId(), share.bytes(), descriptor);
        }
        if (socket.pendingDescriptors() > 0) {
            closeDescriptors();
            throw new ProtocolException("a file descriptor came with a " + decoded.getClass().getSimpleName()
                    + " frame, which takes none");
        }
        return decoded;
    }

    /**
     * Reads a frame larger than the kept buffer into one that doubles as its bytes arrive, so that a peer that
     * announces a large frame and stalls holds no more memory than it sent; every buffer is drawn from the budget.
     * Returns a buffer of exactly {@code total} bytes, held from the budget until the caller releases it.
     */
    private MemorySegment readLarge(long total) throws IOException {
        long have = KEPT_BUFFER_BYTES;
        MemorySegment buffer = readBuffer;
        long read = KEPT_BUFFER_BYTES;
        readFully(readBuffer, FrameCodec.HEADER_BYTES, KEPT_BUFFER_BYTES - FrameCodec.HEADER_BYTES, frameDeadline);
        boolean drawn = false;
        try {
            while (read < total) {
                long next = Math.min(total, have * 2);
                if (!limits.budget().tryAcquire(next)) {
                    throw new ProtocolException("a " + total + "-byte frame does not fit the " + limits.budget().bytes()
                            + "-byte budget for large frames that the worker's connections share now; send tensors"
                            + " through shared memory");
                }
                Arena arena = Arena.ofConfined();
                MemorySegment larger = arena.allocate(next, 64);
                MemorySegment.copy(buffer, 0, larger, 0, read);
                if (drawn) {
                    limits.budget().release(buffer.byteSize());
                    largeArena.close();
                }
                largeArena = arena;
                buffer = larger;
                drawn = true;
                have = next;
                int chunk = (int) Math.min(next - read, Integer.MAX_VALUE);
                readFully(buffer, read, chunk, frameDeadline);
                read += chunk;
            }
            return buffer;
        } catch (IOException | RuntimeException e) {
            if (drawn) {
                limits.budget().release(buffer.byteSize());
                largeArena.close();
                largeArena = null;
            }
            throw e;
        }
    }

    /**
     * Writes a frame; a {@link Frame.SharePool} sends its descriptor with it (the caller still owns and closes it).
     * Never waits for the peer: what the socket does not take now is queued for the {@link Flusher}.
     *
     * @throws IOException if the channel is closed, or the peer let the queue outgrow its bound (it is disconnected)
     */
    public void write(Frame frame) throws IOException {
        ByteBuffer bytes = codec.encode(frame);
        int descriptor = frame instanceof Frame.SharePool share ? share.descriptor() : -1;
        boolean queued;
        writing.lock();
        try {
            int length = bytes.remaining();
            long sent = 0;
            if (outbound.isEmpty()) {
                try (Arena large = length <= KEPT_BUFFER_BYTES ? null : Arena.ofConfined()) {
                    MemorySegment out = large == null ? writeBuffer : large.allocate(length, 64);
                    MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, out, 0, length);
                    sent = socket.writeSome(out, 0, length, descriptor);
                }
                if (sent == length) {
                    return;
                }
                bytes.position(bytes.position() + (int) sent);
            }
            if (queuedBytes + bytes.remaining() > limits.maxQueuedBytes()) {
                disconnectStalled();
                throw new IOException("the peer left " + queuedBytes + " bytes of output unread, past the bound of "
                        + limits.maxQueuedBytes() + "; it was disconnected");
            }
            // native memory, which the socket writes from, freed once sent or dropped
            Arena memory = Arena.ofShared();
            MemorySegment rest = memory.allocate(bytes.remaining(), 8);
            MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, rest, 0, bytes.remaining());
            // the descriptor goes with the first byte: still to send if none was sent
            int kept = descriptor >= 0 && sent == 0 ? UnixSocket.duplicate(descriptor) : -1;
            queued = outbound.isEmpty();
            outbound.add(new Pending(memory, rest, kept));
            queuedBytes += rest.byteSize();
            if (stalledSince == 0) {
                stalledSince = System.nanoTime();
            }
        } finally {
            writing.unlock();
        }
        if (queued) {
            Flusher.INSTANCE.watch(this);
        }
    }

    /**
     * Writes what the socket takes of the queue; returns whether the queue is empty now. Called by the flusher when the
     * socket is writable; disconnects the peer once it has taken nothing for the write deadline.
     */
    boolean flush() {
        writing.lock();
        try {
            while (!outbound.isEmpty()) {
                Pending next = outbound.peek();
                long sent = socket.writeSome(next.bytes, next.offset, next.bytes.byteSize() - next.offset,
                        next.descriptor);
                if (sent > 0) {
                    stalledSince = System.nanoTime();
                    if (next.descriptor >= 0) {
                        UnixSocket.closeQuietly(next.descriptor);
                        next.descriptor = -1;
                    }
                    next.offset += sent;
                    queuedBytes -= sent;
                }
                if (next.offset < next.bytes.byteSize()) {
                    if (System.nanoTime() - stalledSince > limits.writeDeadline().toNanos()) {
                        disconnectStalled();
                        return true;
                    }
                    return false;
                }
                outbound.poll().memory.close();
            }
            stalledSince = 0;
            return true;
        } catch (IOException | RuntimeException e) {
            dropQueue();
            socket.close();
            return true;
        } finally {
            writing.unlock();
        }
    }

    /** When the flusher must look again at the latest: the write deadline of what is queued now. */
    long deadlineNanos() {
        writing.lock();
        try {
            return stalledSince == 0 ? Long.MAX_VALUE : stalledSince + limits.writeDeadline().toNanos();
        } finally {
            writing.unlock();
        }
    }

    private void disconnectStalled() {
        dropQueue();
        socket.close();
        onStall.run();
    }

    private void dropQueue() {
        for (Pending pending : outbound) {
            if (pending.descriptor >= 0) {
                UnixSocket.closeQuietly(pending.descriptor);
            }
            pending.memory.close();
        }
        outbound.clear();
        queuedBytes = 0;
        stalledSince = 0;
    }

    /** Reads exactly {@code length} bytes by {@code deadline} ({@link System#nanoTime()}; 0: no limit). */
    private void readFully(MemorySegment into, long offset, int length, long deadline) throws IOException {
        int done = 0;
        while (done < length) {
            long timeout = deadline == 0 ? 0 : Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
            int count;
            try {
                count = socket.read(into, offset + done, length - done, timeout);
            } catch (SocketTimeoutException e) {
                throw new SocketTimeoutException(offset == 0 ? "no frame began in time"
                        : "a frame did not arrive whole"
                                + " within " + limits.frameTimeout().toMillis() + " ms of its first byte");
            }
            if (count < 0) {
                throw new EOFException("the connection closed");
            }
            if (socket.droppedDescriptors()) {
                closeDescriptors();
                throw new ProtocolException("the peer sent more file descriptors than its frames take");
            }
            done += count;
        }
    }

    /** Closes the descriptor a frame carries that its reader did not take (a share-pool frame out of place). */
    public static void discard(Frame frame) {
        if (frame instanceof Frame.SharePool share && share.descriptor() >= 0) {
            UnixSocket.closeQuietly(share.descriptor());
        }
    }

    private void closeDescriptors() {
        for (int descriptor = socket.takeDescriptor(); descriptor >= 0; descriptor = socket.takeDescriptor()) {
            UnixSocket.closeQuietly(descriptor);
        }
    }

    @Override
    public void close() {
        writing.lock();
        try {
            dropQueue();
        } finally {
            writing.unlock();
        }
        socket.close();
    }

    /** Bytes of one frame that the socket has not taken, and the descriptor still to go with the first of them. */
    private static final class Pending {
        final Arena memory;
        final MemorySegment bytes;
        long offset;
        int descriptor;

        Pending(Arena memory, MemorySegment bytes, int descriptor) {
            this.memory = memory;
            this.bytes = bytes;
            this.descriptor = descriptor;
        }
    }
}
