package io.quarkiverse.modelsharing.worker;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/** Between tensors and their wire form: descriptors when both sides share memory, inline bytes when not. */
final class WireTensors {

    private WireTensors() {
    }

    /**
     * The wire form of {@code tensors}. With a pool, tensors not in it are copied in first, and the copies are added
     * to {@code keep} (the caller closes them when the request is done).
     */
    static List<WireTensor> toWire(Map<String, Tensor> tensors, TensorAllocator allocator, List<Tensor> keep) {
        List<WireTensor> wire = new ArrayList<>();
        tensors.forEach((name, tensor) -> {
            if (allocator instanceof SharedMemoryPool pool) {
                Tensor shared = tensor;
                if (tensor.storageKind() != StorageKind.SHARED) {
                    shared = pool.copyOf(tensor);
                    keep.add(shared);
                }
                wire.add(new WireTensor.Shared(name, pool.describe(shared)));
            } else {
                wire.add(new WireTensor.Inline(name, tensor.dtype(), tensor.shape(), tensor.toByteArray()));
            }
        });
        return wire;
    }

    /**
     * Tensors for the wire forms: read-only views of shared memory, or off-heap copies of inline bytes. Leased views
     * do not count themselves in their blocks: the connection's lease keeps the blocks.
     */
    static Map<String, Tensor> fromWire(List<WireTensor> wire, TensorAllocator allocator, boolean leased) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (WireTensor tensor : wire) {
                tensors.put(tensor.name(), switch (tensor) {
                    case WireTensor.Shared shared -> {
                        if (!(allocator instanceof SharedMemoryPool pool)) {
                            throw new WorkerException(Frame.ErrorCode.INVALID_INPUT,
                                    "tensor '" + shared.name()
                                            + "' arrived as a shared-memory descriptor, but this side has no shared memory");
                        }
                        yield leased ? pool.openLeased(shared.descriptor()) : pool.open(shared.descriptor());
                    }
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
}
