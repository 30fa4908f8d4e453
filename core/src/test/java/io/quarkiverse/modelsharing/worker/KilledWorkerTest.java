package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.shm.PeerChild;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A worker daemon (WorkerMain in a child JVM) killed with SIGKILL mid-request: every request in flight fails at once
 * with "worker unavailable" and the client's pool is back to 0 bytes at once (the worker held no reference in it);
 * and when every process of a scenario is killed, nothing of theirs stays in /dev/shm or in memory.
 */
class KilledWorkerTest {

    @Test
    void requestsInFlightFailAtOnceAndTheClientsMemoryComesBack() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("slow.onnx"), TinyModels.slow(1024, 160));
            Path socket = shm.root.resolve("worker.sock");
            Process worker = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                    "-cp", System.getProperty("java.class.path"), WorkerMain.class.getName(), "--socket", socket.toString(),
                    "--model", "slow=" + model,
                    "--threads", "1", "--name", "doomed", "--shm-max", "64M")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(8 << 20, 64 << 20));
                    ExecutorService callers = Executors.newFixedThreadPool(3)) {
                String ready = new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine();
                assertEquals("worker doomed listening on " + socket, ready);
                try (WorkerClient client = WorkerClient.connect(socket, pool, "test")) {
                    client.load("slow", Duration.ofSeconds(30));
                    List<CompletableFuture<Long>> calls = new ArrayList<>();
                    for (int i = 0; i < 3; i++) {
                        calls.add(CompletableFuture.supplyAsync(() -> {
                            // each caller's input lives in the pool; one is copied in from off-heap memory
                            try (Tensor x = pool.allocate(DType.F32, 1024, 1024)) {
                                client.infer("slow", Map.of("x", x), Duration.ofSeconds(60)).close();
                            }
                            return System.nanoTime();
                        }, callers));
                    }
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (Integer.parseInt(client.status(Duration.ofSeconds(10)).get("queue")) < 3
                            && System.nanoTime() < deadline) {
                        Thread.onSpinWait(); // until one runs and two wait in the worker
                    }
                    assertTrue(pool.usedBytes() >= 3 * (4 << 20), "three 4 MiB inputs are in the worker's hands");
                    worker.destroyForcibly();
                    long killed = System.nanoTime();
                    for (CompletableFuture<Long> call : calls) {
                        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                                () -> call.get(10, TimeUnit.SECONDS));
                        assertTrue(e.getCause() instanceof WorkerUnavailableException, e.getCause().toString());
                        assertTrue(
                                e.getCause().getMessage()
                                        .startsWith("Worker unavailable: 'doomed' at " + socket + " went away"),
                                e.getCause().getMessage());
                    }
                    long failedWithin = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                    assertTrue(failedWithin < 100, "in-flight requests failed " + failedWithin + " ms after the kill");
                    long seen = System.nanoTime();
                    while (pool.usedBytes() > 0 && System.nanoTime() - seen < TimeUnit.SECONDS.toNanos(1)) {
                        Thread.onSpinWait();
                    }
                    assertEquals(0, pool.usedBytes(), "within 1 s of the failure the client's pool is empty again: the"
                            + " dead worker held no reference in it");
                }
                assertTrue(worker.waitFor(10, TimeUnit.SECONDS));
            } finally {
                worker.destroyForcibly();
                worker.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void whenEveryProcessIsKilledTheKernelFreesTheirPools() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
            Path socket = shm.root.resolve("worker.sock");
            List<String> before = devShm();
            long baseline;
            Process worker = PeerChild.worker(socket, model, "doomed").start();
            Process client = null;
            try {
                assertEquals("worker doomed listening on " + socket,
                        new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine());
                client = PeerChild.command("client", socket.toString(), Long.toString(128L << 20), "hold").start();
                BufferedReader said = new BufferedReader(new InputStreamReader(client.getInputStream()));
                String pool = said.readLine();
                assertEquals("ok", said.readLine());
                assertEquals("ready", said.readLine());
                String maps = Files.readString(Path.of("/proc", Long.toString(worker.pid()), "maps"));
                assertTrue(maps.contains("/memfd:qms-pool-" + pool.substring(5)), "the worker maps the client's " + pool);

                assertEquals(List.of(), devShm().stream().filter(name -> !before.contains(name)).toList(),
                        "nothing of theirs in /dev/shm (this test's root, made before, holds the model and socket)");
            } finally {
                // what the machine holds now, the pools of both included; the kill must take 128 MiB off it
                baseline = shmemBytes() - (128L << 20);
                worker.destroyForcibly();
                if (client != null) {
                    client.destroyForcibly();
                    assertTrue(client.waitFor(10, TimeUnit.SECONDS));
                }
                assertTrue(worker.waitFor(10, TimeUnit.SECONDS));
            }
            long killed = System.nanoTime();
            while (shmemBytes() > baseline + (32L << 20) && System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(5)) {
                Thread.onSpinWait();
            }
            assertTrue(shmemBytes() <= baseline + (32L << 20), "within 5 s of the kill the kernel freed the pools: "
                    + shmemBytes() + " bytes of shared memory, " + (baseline + (128L << 20)) + " just before the kill");
            try (var left = Files.list(shm.root)) {
                assertEquals(List.of("affine.onnx", "worker.sock"),
                        left.map(path -> path.getFileName().toString()).sorted().toList(),
                        "no pool file was ever made, by no process");
            }
        }
    }

    /** The names directly under /dev/shm. */
    private static List<String> devShm() throws Exception {
        try (var names = Files.list(Path.of("/dev/shm"))) {
            return names.map(path -> path.getFileName().toString()).toList();
        }
    }

    /** Shared memory in use on this machine (tmpfs and memfds), from /proc/meminfo. */
    static long shmemBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("Shmem:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        }
        throw new IllegalStateException("no Shmem line in /proc/meminfo");
    }
}
