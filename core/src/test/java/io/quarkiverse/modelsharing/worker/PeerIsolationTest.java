package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.shm.PeerChild;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A worker daemon in a JVM of its own; clients in JVMs of their own that try to hurt it through the memory they share
 * (shrinking their pool, sending an unsealed memfd, a regular file, a memfd smaller than they say, a descriptor of a
 * pool they never sent, a named pool file they then truncate and delete); meanwhile a well-behaved client checks every
 * answer. The worker survives, each bad client gets a clear error, the good one sees no failure.
 */
class PeerIsolationTest {

    static final float[] ROW = { 1, 2, 3, 4 };
    static final String POOL = "0123456789abcdef0123456789abcdef";

    @Test
    void aClientsPoolCannotHurtTheWorkerNorAnotherClient() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create();
                PeerChild.Worker worker = PeerChild.startWorker(shm.root, "shared", List.of())) {
            Path socket = worker.socket();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger answered = new AtomicInteger();
            AtomicReference<String> wrong = new AtomicReference<>();
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20))) {
                CompletableFuture<Void> good = CompletableFuture.runAsync(() -> {
                    float[] expected = TinyModels.expectedAffine(ROW, TinyModels.BIAS);
                    try (WorkerClient client = WorkerClient.connect(socket, pool, "good");
                            Tensor x = pool.allocate(DType.F32, 1, 4)) {
                        x.copyFrom(ROW);
                        while (!stop.get() || answered.get() < 50) {
                            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                                float[] got = result.get("y").toFloatArray();
                                if (!java.util.Arrays.equals(expected, got)) {
                                    wrong.compareAndSet(null, java.util.Arrays.toString(got));
                                }
                                answered.incrementAndGet();
                            }
                        }
                    }
                });

                assertEquals(List.of("welcome true", "answer PROTOCOL Pool " + POOL + " from a client of worker 'shared' is"
                        + " not a memfd sealed against shrinking (seals 0); it is refused, since its owner could shrink"
                        + " it under a reader", "closed"), peer("unsealed", socket));
                assertEquals(List.of("welcome true", "answer PROTOCOL Pool " + POOL + " from a client of worker 'shared' is"
                        + " not a memfd sealed against shrinking (seals -1); it is refused, since its owner could shrink"
                        + " it under a reader", "closed"), peer("file", socket));
                assertEquals(List.of("welcome true", "answer PROTOCOL Pool " + POOL + " from a client of worker 'shared' is"
                        + " 4096 bytes, not the 1048576 bytes announced", "closed"), peer("lie", socket));
                List<String> unshared = peer("unshared", socket);
                assertEquals(2, unshared.size(), unshared.toString());
                assertTrue(unshared.get(1).startsWith("answer INVALID_INPUT TensorDescriptor[pool " + POOL)
                        && unshared.get(1).endsWith(" names pool " + POOL + ", which this connection has not been"
                                + " sent: send the pool first (a client does that for the pools it allocates in)"),
                        unshared.get(1));
                assertEquals(List.of("truncate to 0 refused: Operation not permitted",
                        "truncate to 4096 refused: Operation not permitted", "served after the attempt"),
                        peer("shrink", socket));
                List<String> named = peer("named", socket, shm.root.toString());
                assertEquals(2, named.size(), named.toString());
                assertEquals("served after the attempt", named.get(1));
                String maps = Files.readString(Path.of("/proc", Long.toString(worker.pid()), "maps"));
                assertFalse(maps.contains(shm.root.toString()), "the worker never mapped a named pool file:\n" + maps);

                stop.set(true);
                good.get(60, TimeUnit.SECONDS);
                assertEquals(null, wrong.get(), "the good client got only right answers");
                assertTrue(worker.process().isAlive(), "the worker survived every bad client");
                try (WorkerClient after = WorkerClient.connect(socket, pool, "after");
                        Tensor x = Tensor.of(ROW, 1, 4);
                        InferenceResult result = after.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                    assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), result.get("y").toFloatArray());
                }
            } finally {
                stop.set(true);
            }
        }
    }

    /** Runs a peer to its end and returns what it printed. */
    static List<String> run(String... args) throws IOException, InterruptedException {
        Process child = PeerChild.command(args).start();
        String output = new String(child.getInputStream().readAllBytes()).trim();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the peer ended");
        assertEquals(0, child.exitValue(), output);
        return output.lines().toList();
    }

    static List<String> peer(String mode, Path socket, String... more) throws IOException, InterruptedException {
        String[] args = new String[more.length + 2];
        args[0] = mode;
        args[1] = socket.toString();
        System.arraycopy(more, 0, args, 2, more.length);
        return run(args);
    }
}
