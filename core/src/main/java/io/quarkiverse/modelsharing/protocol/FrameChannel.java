package io.quarkiverse.modelsharing.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Frames over a connected socket: whole frames in, whole frames out, writes serialized so that concurrent responses
 * never interleave.
 */
public final class FrameChannel implements AutoCloseable {

    private final SocketChannel channel;
    private final FrameCodec codec;
    private final ReentrantLock writing = new ReentrantLock();
    private final ByteBuffer header = ByteBuffer.allocate(FrameCodec.HEADER_BYTES);

    public FrameChannel(SocketChannel channel, FrameCodec codec) {
        this.channel = channel;
        this.codec = codec;
    }

    public SocketChannel socket() {
        return channel;
    }

    /** The next frame; blocks until one arrives. */
    public Frame read() throws IOException {
        header.clear();
        readFully(header);
        int length = codec.payloadLength(header.flip());
        ByteBuffer frame = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + length);
        frame.put(header.rewind());
        readFully(frame);
        return codec.decode(frame.flip());
    }

    public void write(Frame frame) throws IOException {
        ByteBuffer bytes = codec.encode(frame);
        writing.lock();
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } finally {
            writing.unlock();
        }
    }

    private void readFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("the connection closed");
            }
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
