package io.quarkiverse.modelsharing.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Frames over a connected {@link UnixSocket}: whole frames in, whole frames out, writes serialized so that concurrent
 * responses never interleave. A {@link Frame.SharePool} carries its pool's file descriptor beside its bytes; a
 * descriptor that arrives with any other frame, or more descriptors than frames to take them, is a protocol error
 * (and closed).
 */
public final class FrameChannel implements AutoCloseable {

    /** Frames up to this size are read and written through buffers kept for the connection. */
    private static final int KEPT_BUFFER_BYTES = 64 << 10;

    private final UnixSocket socket;
    private final FrameCodec codec;
    private final ReentrantLock writing = new ReentrantLock();
    private final MemorySegment readBuffer = Arena.ofAuto().allocate(KEPT_BUFFER_BYTES, 64);
    private final MemorySegment writeBuffer = Arena.ofAuto().allocate(KEPT_BUFFER_BYTES, 64);

    public FrameChannel(UnixSocket socket, FrameCodec codec) {
        this.socket = socket;
        this.codec = codec;
    }

    public UnixSocket socket() {
        return socket;
    }

    /** The next frame; blocks until one arrives. */
    public Frame read() throws IOException {
        readFully(readBuffer, 0, FrameCodec.HEADER_BYTES);
        int length = codec.payloadLength(readBuffer.asSlice(0, FrameCodec.HEADER_BYTES).asByteBuffer());
        long total = FrameCodec.HEADER_BYTES + (long) length;
        MemorySegment frame = readBuffer;
        if (total > KEPT_BUFFER_BYTES) {
            frame = Arena.ofAuto().allocate(total, 64);
            MemorySegment.copy(readBuffer, 0, frame, 0, FrameCodec.HEADER_BYTES);
        }
        readFully(frame, FrameCodec.HEADER_BYTES, length);
        Frame decoded = codec.decode(frame.asSlice(0, total).asByteBuffer());
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

    /** Writes a frame; a {@link Frame.SharePool} sends its descriptor with it (the caller still owns and closes it). */
    public void write(Frame frame) throws IOException {
        ByteBuffer bytes = codec.encode(frame);
        int descriptor = frame instanceof Frame.SharePool share ? share.descriptor() : -1;
        writing.lock();
        try {
            MemorySegment out = bytes.remaining() <= KEPT_BUFFER_BYTES ? writeBuffer
                    : Arena.ofAuto().allocate(bytes.remaining(), 64);
            int length = bytes.remaining();
            MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, out, 0, length);
            socket.write(out, length, descriptor);
        } finally {
            writing.unlock();
        }
    }

    private void readFully(MemorySegment into, long offset, int length) throws IOException {
        int done = 0;
        while (done < length) {
            int count = socket.read(into, offset + done, length - done);
            if (count < 0) {
                throw new EOFException("the connection closed");
            }
            done += count;
        }
    }

    private void closeDescriptors() {
        for (int descriptor = socket.takeDescriptor(); descriptor >= 0; descriptor = socket.takeDescriptor()) {
            UnixSocket.closeQuietly(descriptor);
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
