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
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A worker daemon (WorkerMain in a child JVM) killed with SIGKILL mid-request: every request in flight fails at once
 * with "worker unavailable", and its shared memory is gone within the janitor's period.
 */
class KilledWorkerTest {

    @Test
    void requestsInFlightFailAtOnceAndNothingIsLeftBehind() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("slow.onnx"), TinyModels.slow(1024, 160));
            Path socket = shm.root.resolve("worker.sock");
            Process worker = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                    "-cp", System.getProperty("java.class.path"), WorkerMain.class.getName(), "--socket", socket.toString(),
                    "--model", "slow=" + model,
                    "--threads", "1", "--name", "doomed", "--shm-dir", shm.root.toString(), "--shm-max", "64M")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(4 << 20, 64 << 20));
                    ExecutorService callers = Executors.newFixedThreadPool(3)) {
                String ready = new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine();
                assertEquals("worker doomed listening on " + socket, ready);
                try (WorkerClient client = WorkerClient.connect(socket, pool, "test");
                        Tensor x = pool.allocate(DType.F32, 1024, 1024)) {
                    client.load("slow", Duration.ofSeconds(30));
                    assertTrue(shm.poolFiles() >= 1);
                    List<CompletableFuture<Long>> calls = new ArrayList<>();
                    for (int i = 0; i < 3; i++) {
                        calls.add(CompletableFuture.supplyAsync(() -> {
                            client.infer("slow", Map.of("x", x), Duration.ofSeconds(60)).close();
                            return System.nanoTime();
                        }, callers));
                    }
                    Thread.sleep(300); // the first runs, the others wait in the worker's queue
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
                }
                assertTrue(worker.waitFor(10, TimeUnit.SECONDS));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                String workerPool = "-" + worker.pid() + "-";
                while (workerFiles(shm.root, workerPool) > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertEquals(0, workerFiles(shm.root, workerPool), "the dead worker's pools were swept within 5 s");
            } finally {
                worker.destroyForcibly();
                worker.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static long workerFiles(Path root, String pid) throws Exception {
        Path dir = root.resolve("quarkus-model-sharing-" + io.quarkiverse.modelsharing.shm.ShmTestRoots.uid());
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().contains(pid)).count();
        }
    }
}
