package io.quarkiverse.modelsharing.worker;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.shm.PeerPools;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/** Between tensors and their wire form: descriptors when both sides share memory, inline bytes when not. */
final class WireTensors {

    private WireTensors() {
    }

    /**
     * The wire form of {@code tensors}. With a pool, a tensor allocated in it travels as its descriptor, a view of one
     * of the peer's own pools goes back as the peer's descriptor (no copy), and any other is copied into the pool first,
     * the copy added to {@code keep} (the caller closes it when the request is done). Without a pool, bytes go inline.
     */
    static List<WireTensor> toWire(Map<String, Tensor> tensors, SharedMemoryPool pool, PeerPools peer,
            List<Tensor> keep) {
        List<WireTensor> wire = new ArrayList<>();
        tensors.forEach((name, tensor) -> {
            if (pool == null) {
                wire.add(new WireTensor.Inline(name, tensor.dtype(), tensor.shape(), tensor.toByteArray()));
                return;
            }
            TensorDescriptor theirs = peer == null ? null : peer.describe(tensor);
            if (theirs != null) {
                wire.add(new WireTensor.Shared(name, theirs));
                return;
            }
            Tensor shared = tensor;
            if (!pool.owns(tensor)) {
                shared = pool.copyOf(tensor);
                keep.add(shared);
            }
            wire.add(new WireTensor.Shared(name, pool.describe(shared)));
        });
        return wire;
    }

    /**
     * Tensors for the wire forms: views that {@code open} gives for descriptors, or off-heap copies of inline bytes. A
     * name sent twice is refused (and nothing opened is left open).
     */
    static Map<String, Tensor> fromWire(List<WireTensor> wire, Function<TensorDescriptor, Tensor> open) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (WireTensor tensor : wire) {
                if (tensors.containsKey(tensor.name())) {
                    throw new WorkerException(Frame.ErrorCode.INVALID_INPUT, "tensor '" + tensor.name()
                            + "' appears twice; each name may be given once");
                }
                tensors.put(tensor.name(), switch (tensor) {
                    case WireTensor.Shared shared -> open.apply(shared.descriptor());
                    case WireTensor.Inline inline -> {
                        Tensor copy = TensorAllocator.offHeap().allocateUninitialized(inline.dtype(), inline.shape());
                        MemorySegment.copy(MemorySegment.ofArray(inline.data()), 0, copy.segment(), 0, inline.data().length);
                        yield copy;
                    }
                });
            }
            return tensors;
        } catch (RuntimeException e) {
            tensors.values().forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * Sends the peer each of {@code pool}'s files that {@code tensors} name and {@code sent} does not hold yet (a
     * share-pool frame with the file's descriptor), then {@code frame}: under {@code sent}'s lock, so that no frame
     * naming a pool can overtake the pool itself.
     */
    static void sendWithPools(Frame frame, List<WireTensor> tensors, SharedMemoryPool pool, Set<String> sent,
            Consumer<Frame> send) {
        synchronized (sent) {
            for (WireTensor tensor : tensors) {
                if (tensor instanceof WireTensor.Shared shared && pool.hasPool(shared.descriptor().poolId())
                        && sent.add(shared.descriptor().poolId())) {
                    String poolId = shared.descriptor().poolId();
                    int descriptor = pool.descriptorForPeer(poolId);
                    try {
                        send.accept(new Frame.SharePool(0, poolId, pool.poolBytes(poolId), descriptor));
                    } finally {
                        UnixSocket.closeDescriptor(descriptor);
                    }
                }
            }
            send.accept(frame);
        }
    }
}
