package io.quarkiverse.modelsharing.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemory;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * The worker daemon's command line:
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp quarkus-model-sharing-core.jar:onnxruntime.jar \
 *     io.quarkiverse.modelsharing.worker.WorkerMain --socket /run/models/worker.sock \
 *     --model embedder=/models/embedder.onnx [--model ...] [--allow-user alice ...] [--threads 2] [--queue 1024] \
 *     [--timeout 30s] [--name cpu-0] [--shm-dir /dev/shm] [--shm-max 1G] [--max-batch 8] [--max-delay 10ms]
 * </pre>
 *
 * It prints {@code listening on <socket>} once ready and serves until it is terminated.
 */
public final class WorkerMain {

    private WorkerMain() {
    }

    public static void main(String[] args) throws Exception {
        Path socket = null;
        Map<String, String> models = new LinkedHashMap<>();
        Set<String> users = new HashSet<>();
        int threads = 2;
        int queue = 1024;
        Duration timeout = Duration.ofSeconds(30);
        String name = "worker";
        Path shmDir = SharedMemorySettings.DEFAULT_ROOT;
        long shmMax = 1L << 30;
        int maxBatch = WorkerSettings.DEFAULT_MAX_BATCH;
        Duration maxDelay = WorkerSettings.DEFAULT_MAX_DELAY;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--socket" -> socket = Path.of(require(args[i], value));
                case "--model" -> {
                    String[] pair = require(args[i], value).split("=", 2);
                    if (pair.length != 2) {
                        throw usage("--model takes name=location, got " + value);
                    }
                    models.put(pair[0], pair[1]);
                }
                case "--allow-user" -> users.add(require(args[i], value));
                case "--threads" -> threads = Integer.parseInt(require(args[i], value));
                case "--queue" -> queue = Integer.parseInt(require(args[i], value));
                case "--timeout" -> timeout = duration(require(args[i], value));
                case "--name" -> name = require(args[i], value);
                case "--shm-dir" -> shmDir = Path.of(require(args[i], value));
                case "--shm-max" -> shmMax = bytes(require(args[i], value));
                case "--max-batch" -> maxBatch = Integer.parseInt(require(args[i], value));
                case "--max-delay" -> maxDelay = duration(require(args[i], value));
                default -> throw usage("unknown option " + args[i]);
            }
            i++;
        }
        if (socket == null || models.isEmpty()) {
            throw usage("--socket and at least one --model are required");
        }
        ModelRegistry registry = ModelRegistry.builder().idleTimeout(null).build();
        ClassLoader classLoader = WorkerMain.class.getClassLoader();
        models.forEach((model, location) -> registry.register(model,
                OnnxModelLoader.of(model, ModelSource.parse(location, classLoader))));
        TensorAllocator allocator = SharedMemory.allocator(new SharedMemorySettings(shmDir,
                SharedMemorySettings.DEFAULT_POOL_FILE_BYTES, Math.max(shmMax, SharedMemorySettings.DEFAULT_POOL_FILE_BYTES),
                SharedMemorySettings.DEFAULT_JANITOR_PERIOD));
        WorkerServer server = WorkerServer.start(new WorkerSettings(socket, users, threads, queue, timeout, name, maxBatch,
                maxDelay), registry, allocator);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            try {
                server.close();
            } catch (Exception e) {
                // exiting anyway
            }
            registry.close();
            if (allocator instanceof SharedMemoryPool pool) {
                pool.close();
            }
            stopped.countDown();
        }));
        System.out.println("worker " + name + " listening on " + socket);
        System.out.flush();
        stopped.await();
    }

    private static String require(String option, String value) {
        if (value == null) {
            throw usage(option + " needs a value");
        }
        return value;
    }

    /** {@code 10ms}, {@code 2s}, {@code 1m}. */
    private static Duration duration(String text) {
        String lower = text.toLowerCase();
        if (lower.endsWith("ms")) {
            return Duration.ofMillis(Long.parseLong(lower.substring(0, lower.length() - 2)));
        }
        if (lower.endsWith("s")) {
            return Duration.ofSeconds(Long.parseLong(lower.substring(0, lower.length() - 1)));
        }
        if (lower.endsWith("m")) {
            return Duration.ofMinutes(Long.parseLong(lower.substring(0, lower.length() - 1)));
        }
        throw usage("durations look like 10ms, 2s or 1m, not " + text);
    }

    private static long bytes(String size) {
        String digits = size.replaceAll("[^0-9]", "");
        long unit = switch (Character.toUpperCase(size.charAt(size.length() - 1))) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        return Long.parseLong(digits) * unit;
    }

    private static IllegalArgumentException usage(String problem) {
        return new IllegalArgumentException(problem + "\nusage: WorkerMain --socket PATH --model NAME=LOCATION"
                + " [--model ...] [--allow-user USER ...] [--threads N] [--queue N] [--timeout 30s] [--name NAME]"
                + " [--shm-dir /dev/shm] [--shm-max 1G] [--max-batch 8] [--max-delay 10ms]");
    }
}
