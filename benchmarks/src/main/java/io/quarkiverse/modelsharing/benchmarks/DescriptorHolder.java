package io.quarkiverse.modelsharing.benchmarks;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * The producing process of the cross-process hand-off benchmark: allocates one tensor per size in its shared-memory
 * pool, prints each descriptor as hex, and keeps them until its stdin closes.
 */
public final class DescriptorHolder {

    private DescriptorHolder() {
    }

    /** {@code <shm root> <bytes>...} */
    public static void main(String[] args) throws Exception {
        long largest = 0;
        for (int i = 1; i < args.length; i++) {
            largest = Math.max(largest, Long.parseLong(args[i]));
        }
        long total = 2 * largest + (256L << 20);
        SharedMemorySettings settings = new SharedMemorySettings(Path.of(args[0]), 64L << 20, total, Duration.ofSeconds(1),
                true);
        List<Tensor> tensors = new ArrayList<>();
        try (SharedMemoryPool pool = SharedMemoryPool.open(settings)) {
            for (int i = 1; i < args.length; i++) {
                Tensor tensor = pool.allocate(DType.U8, Long.parseLong(args[i]));
                tensors.add(tensor);
                System.out.println(HexFormat.of().formatHex(pool.describe(tensor).encode()));
            }
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until the benchmark is done
            }
            tensors.forEach(Tensor::close);
        }
    }
}
