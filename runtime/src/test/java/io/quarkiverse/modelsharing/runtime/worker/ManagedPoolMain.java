package io.quarkiverse.modelsharing.runtime.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * An application in a JVM of its own that does what the recorder does with managed workers: one CPU worker serving
 * {@code affine=<model>}, its sockets under {@code <shm root>}. Prints {@code ready} once the worker listens, then
 * waits to be killed. Arguments: {@code <model> <shm root>}.
 */
public final class ManagedPoolMain {

    private ManagedPoolMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        WorkerPool pool = WorkerPool.managed(List.of("cpu"), 1, Map.of("affine", args[0]), Map.of(), List.of("--threads", "1"),
                Path.of(args[1]), TensorAllocator.offHeap(), Duration.ofSeconds(60), Duration.ofSeconds(30),
                Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(10));
        pool.connection().client(); // connected: the worker serves
        System.out.println("ready");
        Thread.currentThread().join(); // until killed
    }
}
