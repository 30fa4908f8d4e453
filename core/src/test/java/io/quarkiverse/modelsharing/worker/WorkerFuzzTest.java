package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 * A worker daemon in a JVM of its own, a well-behaved client in this JVM checking every answer, and an attacker in a
 * third JVM that sends random and mutated frames, shapes the model cannot take, duplicate ids and names, 60 stalled
 * 128 MiB frames, a slowloris hello, 500 silent connections and a client that never reads its answers. The good
 * client gets no wrong answer and no failure; the worker's memory and threads stay bounded (RSS under 512 MiB with a
 * 192 MiB heap, threads under 200) and threads and file descriptors return to where they were.
 */
class WorkerFuzzTest {

    static final float[] ROW = { 1, 2, 3, 4 };

    @Test
    void noAttackCostsAWellBehavedClientAnything() throws Exception {
        // a worker's heap is sized by whoever runs it; the JVM would take 6 GiB of this machine's 24
        try (ShmTestRoots.Root shm = ShmTestRoots.create();
                PeerChild.Worker fuzzed = PeerChild.startWorker(shm.root, "fuzzed", List.of("-Xmx192m"), "--hello-timeout",
                        "1s", "--frame-timeout", "1s", "--write-deadline", "2s", "--idle-timeout", "3s", "--max-batch",
                        "8", "--max-delay", "2ms")) {
            Process worker = fuzzed.process();
            Path socket = fuzzed.socket();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger answered = new AtomicInteger();
            AtomicReference<String> wrong = new AtomicReference<>();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            AtomicLong maxRss = new AtomicLong();
            AtomicLong maxThreads = new AtomicLong();
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20))) {
                Path status = Path.of("/proc", Long.toString(worker.pid()), "status");
                CompletableFuture<Void> good = CompletableFuture.runAsync(() -> {
                    float[] expected = TinyModels.expectedAffine(ROW, TinyModels.BIAS);
                    try (WorkerClient client = WorkerClient.connect(socket, pool, "good");
                            Tensor x = pool.allocate(DType.F32, 1, 4)) {
                        x.copyFrom(ROW);
                        while (!stop.get()) {
                            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                                float[] got = result.get("y").toFloatArray();
                                if (!Arrays.equals(expected, got)) {
                                    wrong.compareAndSet(null, Arrays.toString(got));
                                }
                                answered.incrementAndGet();
                            }
                        }
                    } catch (Throwable e) {
                        failed.compareAndSet(null, e);
                    }
                });
                CompletableFuture<Void> watch = CompletableFuture.runAsync(() -> {
                    while (!stop.get()) {
                        maxRss.accumulateAndGet(value(status, "VmRSS:") * 1024, Math::max);
                        maxThreads.accumulateAndGet(value(status, "Threads:"), Math::max);
                        Thread.onSpinWait();
                    }
                });
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (answered.get() < 20 && System.nanoTime() < deadline) {
                    Thread.onSpinWait(); // the good client is under way and the worker warm
                }
                long baseThreads = value(status, "Threads:");
                long baseFds = fds(worker);

                Process attacker = PeerChild.command("attack", socket.toString(),
                        "garbage,mutated,shapes,duplicates,huge,slowloris,connections,nonreader,padding").start();
                List<String> said = new String(attacker.getInputStream().readAllBytes()).lines().toList();
                assertTrue(attacker.waitFor(120, TimeUnit.SECONDS));
                assertEquals(0, attacker.exitValue(), said.toString());
                said.forEach(line -> System.out.println("attacker said: " + line));
                assertEquals(9, said.size(), said.toString());
                assertEquals("garbage: 200 of 200 closed by the worker", said.get(0));
                assertTrue(said.get(1).startsWith("mutated: 100 mutated frames: "), said.get(1));
                assertEquals("shapes: 60 of 120 refused", said.get(2), "[0,4] [3,4] [2,4] fit the model; the rest not");
                assertEquals("duplicates: PROTOCOL Request id 7 is already in use on this connection (in flight, or"
                        + " its result is not released); use a new id per request | INVALID_INPUT tensor 'x' appears"
                        + " twice; each name may be given once", said.get(3));
                assertEquals("huge: 60 of 60 stalled 128 MiB frames cut off", said.get(4));
                assertTrue(said.get(5).matches("slowloris: cut off after [1-9] bytes"), said.get(5));
                assertEquals("connections: 500 of 500 ended by the worker (refused, or past the hello timeout)",
                        said.get(6));
                assertTrue(said.get(7).startsWith("nonreader: disconnected"), said.get(7));
                assertEquals("padding: PROTOCOL padding 'x=oops;dimension=1;outputs=;bucket=0': the pad value of 'x' is"
                        + " not a number | LOAD_FAILED Model 'affine' was started with no padding; a load cannot give it"
                        + " padding x=0;dimension=1;outputs=;bucket=0: start the worker with --padding"
                        + " affine=x=0;dimension=1;outputs=;bucket=0 | Loaded", said.get(8),
                        "the model's padding is the worker's, and the connection goes on after each refusal");

                int before = answered.get();
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (answered.get() < before + 50 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                stop.set(true);
                good.get(60, TimeUnit.SECONDS);
                watch.get(10, TimeUnit.SECONDS);
                assertEquals(null, failed.get(), "the good client never failed");
                assertEquals(null, wrong.get(), "the good client got only right answers");
                assertTrue(answered.get() >= before + 50, "and kept being served after the attacks");
                System.out.printf("worker under attack: RSS peak %d MiB, threads peak %d (before %d), %d good answers%n",
                        maxRss.get() >> 20, maxThreads.get(), baseThreads, answered.get());
                assertTrue(maxRss.get() < 512L << 20, "worker RSS peaked at " + (maxRss.get() >> 20) + " MiB");
                assertTrue(maxThreads.get() < 200, "worker threads peaked at " + maxThreads.get());
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while ((value(status, "Threads:") > baseThreads + 8 || fds(worker) > baseFds + 4)
                        && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                assertTrue(value(status, "Threads:") <= baseThreads + 8, "threads back near " + baseThreads + ": "
                        + value(status, "Threads:"));
                assertTrue(fds(worker) <= baseFds + 4, "descriptors back near " + baseFds + ": " + fds(worker));
                assertTrue(worker.isAlive());
            } finally {
                stop.set(true);
            }
        }
    }

    static long value(Path status, String field) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (java.io.IOException e) {
            return 0;
        }
        return 0;
    }

    static long fds(Process process) {
        try (var list = Files.list(Path.of("/proc", Long.toString(process.pid()), "fd"))) {
            return list.count();
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
