package io.quarkiverse.modelsharing.runtime.eventbus;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Sends {@link Tensor}s on the Vert.x event bus as references, never as payload bytes.
 * <ul>
 * <li>Within the process, each consumer gets its own read-only reference to the sender's memory: the sender may
 * close its tensor right after sending, and {@code publish} to many consumers shares one copy.</li>
 * <li>On the wire (a clustered event bus), with named pool files, the codec writes the tensor's shared-memory
 * descriptor; the receiver maps the pool, which works between processes on one host and fails clearly across hosts.
 * The sender's block is held for {@link #wireHold() a while} so that receivers can open it after the sender closes
 * its tensor. With memfd pools (the default, which no other process can open without a connection) or without shared
 * memory, the tensor's bytes travel inline (serialization fallback).</li>
 * </ul>
 * A received tensor that its consumer never closes is reported with where it was received, and released once
 * unreachable.
 */
public class TensorMessageCodec implements MessageCodec<Tensor, Tensor> {

    public static final String NAME = "quarkus-model-sharing-tensor";
    private static final Logger LOG = Logger.getLogger(TensorMessageCodec.class);
    static final byte DESCRIPTOR = 1;
    static final byte INLINE = 0;

    private static volatile TensorAllocator allocator = TensorAllocator.offHeap();
    private static volatile Duration wireHold = Duration.ofSeconds(30);
    private static final ScheduledExecutorService HOLDS = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("tensor-wire-hold").factory());

    /** Sets the memory that tensors sent on the wire come from and are read into. */
    public static void configure(TensorAllocator tensors, Duration hold) {
        allocator = tensors;
        wireHold = hold;
    }

    public static Duration wireHold() {
        return wireHold;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public byte systemCodecID() {
        return -1;
    }

    @Override
    public Tensor transform(Tensor tensor) {
        return tensor.retainTracked(where(), TensorMessageCodec::reportLeak);
    }

    @Override
    public void encodeToWire(Buffer buffer, Tensor tensor) {
        // Only named pool files can be opened from a descriptor by another JVM of the host; memfd pools travel inline.
        if (allocator instanceof SharedMemoryPool pool && pool.settings().namedFiles()) {
            Tensor shared = pool.owns(tensor) ? tensor.retain() : pool.copyOf(tensor);
            TensorDescriptor descriptor = pool.describe(shared);
            Tensor held = shared;
            HOLDS.schedule(held::close, wireHold.toMillis(), TimeUnit.MILLISECONDS);
            byte[] encoded = descriptor.encode();
            buffer.appendByte(DESCRIPTOR).appendInt(encoded.length).appendBytes(encoded);
            return;
        }
        byte[] bytes = tensor.toByteArray();
        buffer.appendByte(INLINE).appendByte((byte) tensor.dtype().onnxCode()).appendByte((byte) tensor.rank());
        for (long dim : tensor.shape()) {
            buffer.appendLong(dim);
        }
        buffer.appendInt(bytes.length).appendBytes(bytes);
    }

    @Override
    public Tensor decodeFromWire(int position, Buffer buffer) {
        byte kind = buffer.getByte(position);
        if (kind == DESCRIPTOR) {
            int length = buffer.getInt(position + 1);
            TensorDescriptor descriptor = TensorDescriptor.decode(buffer.getBytes(position + 5, position + 5 + length));
            if (!(allocator instanceof SharedMemoryPool pool)) {
                throw new SharedMemoryException("A tensor arrived as a shared-memory descriptor, but shared memory is not"
                        + " available in this process: the sender and this receiver must share a host and /dev/shm");
            }
            try (Tensor view = pool.open(descriptor)) {
                return view.retainTracked(where(), TensorMessageCodec::reportLeak);
            }
        }
        DType dtype = DType.fromOnnxCode(buffer.getByte(position + 1));
        int rank = buffer.getByte(position + 2);
        long[] shape = new long[rank];
        int at = position + 3;
        for (int axis = 0; axis < rank; axis++, at += 8) {
            shape[axis] = buffer.getLong(at);
        }
        int length = buffer.getInt(at);
        Tensor tensor = TensorAllocator.offHeap().allocateUninitialized(dtype, shape);
        tensor.segment().copyFrom(MemorySegment.ofBuffer(
                ByteBuffer.wrap(buffer.getBytes(at + 4, at + 4 + length)).order(ByteOrder.nativeOrder())));
        try (tensor) {
            return tensor.retainTracked(where(), TensorMessageCodec::reportLeak);
        }
    }

    private static String where() {
        return String.format(Locale.ROOT, "received from the event bus on thread %s", Thread.currentThread().getName());
    }

    static void reportLeak(String tensor) {
        LOG.warnf("A tensor %s was never closed by its consumer; its reference was released when it became"
                + " unreachable. Close received tensors, e.g. with try-with-resources", tensor);
    }
}
