package io.quarkiverse.modelsharing.worker;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OnnxRuntimeLibrary;
import io.quarkiverse.modelsharing.onnx.OnnxSessionSettings;
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
 *     [--device cpu|cuda:N] [--intra-op-threads N] [--shm-pool-file 64M] [--dynamic-models] [--exit-when-idle 10s]
 *     [--parent-pid N] [--hello-timeout 5s] [--idle-timeout 0s] [--frame-timeout 10s] [--write-deadline 10s]
 *     [--max-connections 512] [--max-connections-per-process 64]
 * </pre>
 *
 * It prints {@code listening on <socket>} once ready and serves until it is terminated, or, with {@code --parent-pid},
 * until that process ends (the managed pool passes its own pid, so that a SIGKILLed application leaves no worker).
 */
public final class WorkerMain {

    /**
     * The daemon's shared-memory quota without {@code --shm-max}: what each managed worker gets, since the managed pool
     * does not pass one.
     */
    public static final long DEFAULT_SHM_MAX_BYTES = 1L << 30;

    private static final long PARENT_CHECK_MILLIS = 100;

    private WorkerMain() {
    }

    /**
     * The class path that runs this daemon in another JVM: this library's classes and ONNX Runtime's (the daemon
     * needs nothing else), as file system paths.
     *
     * @throws ModelSharingException if either is not loaded from a file or directory
     */
    public static List<String> classpath() {
        return List.of(location(WorkerMain.class), location(OrtEnvironment.class));
    }

    /**
     * The start of the command line that runs this daemon in another JVM like this one (same java, native access, same
     * temporary directory) on {@code classpath}; the daemon's own arguments follow it.
     */
    public static List<String> command(Collection<String> classpath) {
        return List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"), "-cp",
                String.join(File.pathSeparator, classpath), WorkerMain.class.getName());
    }

    private static String location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException | RuntimeException e) {
            throw new ModelSharingException("Cannot find where " + type.getName()
                    + " is loaded from, to start a worker daemon", e);
        }
    }

    public static void main(String[] args) throws Exception {
        try {
            run(args);
        } catch (IllegalArgumentException | IllegalStateException | ModelSharingException e) {
            // a wrong command line or a missing capability: say why, without a stack trace, and exit non-zero
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }

    private static void run(String[] args) throws Exception {
        Path socket = null;
        Map<String, String> models = new LinkedHashMap<>();
        Map<String, Padding> paddings = new LinkedHashMap<>();
        Set<String> users = new HashSet<>();
        int threads = 2;
        int queue = 1024;
        Duration timeout = Duration.ofSeconds(30);
        String name = "worker";
        Path shmDir = SharedMemorySettings.DEFAULT_ROOT;
        long shmMax = DEFAULT_SHM_MAX_BYTES;
        long shmPoolFile = SharedMemorySettings.DEFAULT_POOL_FILE_BYTES;
        String device = "cpu";
        int intraOpThreads = 0;
        boolean dynamicModels = false;
        Duration exitWhenIdle = null;
        int maxBatch = WorkerSettings.DEFAULT_MAX_BATCH;
        Duration maxDelay = WorkerSettings.DEFAULT_MAX_DELAY;
        ProcessHandle parent = null;
        WorkerLimits defaults = WorkerLimits.defaults();
        Duration helloTimeout = defaults.helloTimeout();
        Duration idleTimeout = defaults.idleTimeout();
        Duration frameTimeout = defaults.frameTimeout();
        Duration writeDeadline = defaults.writeDeadline();
        int maxConnections = defaults.maxConnections();
        int maxPerProcess = defaults.maxConnectionsPerProcess();
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
                case "--padding" -> {
                    String[] pair = require(args[i], value).split("=", 2);
                    if (pair.length != 2) {
                        throw usage("--padding takes name=padding, got " + value);
                    }
                    try {
                        paddings.put(pair[0], Padding.parse(pair[1]));
                    } catch (IllegalArgumentException e) {
                        throw usage("--padding " + pair[0] + ": " + e.getMessage());
                    }
                }
                case "--allow-user" -> users.add(require(args[i], value));
                case "--threads" -> threads = Integer.parseInt(require(args[i], value));
                case "--queue" -> queue = Integer.parseInt(require(args[i], value));
                case "--timeout" -> timeout = duration(require(args[i], value));
                case "--name" -> name = require(args[i], value);
                case "--shm-dir" -> shmDir = Path.of(require(args[i], value));
                case "--shm-max" -> shmMax = bytes(require(args[i], value));
                case "--shm-pool-file" -> shmPoolFile = bytes(require(args[i], value));
                case "--device" -> device = require(args[i], value);
                case "--dynamic-models" -> {
                    dynamicModels = true;
                    i--; // takes no value
                }
                case "--exit-when-idle" -> exitWhenIdle = duration(require(args[i], value));
                case "--intra-op-threads" -> intraOpThreads = Integer.parseInt(require(args[i], value));
                case "--max-batch" -> maxBatch = Integer.parseInt(require(args[i], value));
                case "--max-delay" -> maxDelay = duration(require(args[i], value));
                case "--parent-pid" -> parent = parent(require(args[i], value));
                case "--hello-timeout" -> helloTimeout = duration(require(args[i], value));
                case "--idle-timeout" -> idleTimeout = duration(require(args[i], value));
                case "--frame-timeout" -> frameTimeout = duration(require(args[i], value));
                case "--write-deadline" -> writeDeadline = duration(require(args[i], value));
                case "--max-connections" -> maxConnections = Integer.parseInt(require(args[i], value));
                case "--max-connections-per-process" -> maxPerProcess = Integer.parseInt(require(args[i], value));
                default -> throw usage("unknown option " + args[i]);
            }
            i++;
        }
        if (socket == null || (models.isEmpty() && !dynamicModels)) {
            throw usage("--socket and at least one --model (or --dynamic-models) are required");
        }
        for (String padded : paddings.keySet()) {
            if (!models.containsKey(padded)) {
                throw usage("--padding names model '" + padded + "', which no --model gives; models: " + models.keySet());
            }
        }
        if (parent != null) {
            watchParent(parent, name); // before loading anything: a parent that dies during startup counts too
        }
        OnnxRuntimeLibrary.useSharedCopy(); // a process of its own: ONNX Runtime loads once, from the user's copy
        OnnxSessionSettings device0 = sessionFor(device);
        OnnxSessionSettings session = new OnnxSessionSettings(intraOpThreads, 0, device0.optimizationLevel(),
                device0.cudaDevice());
        ModelRegistry registry = ModelRegistry.builder().idleTimeout(null).build();
        ClassLoader classLoader = WorkerMain.class.getClassLoader();
        models.forEach((model, location) -> registry.register(model,
                new OnnxModelLoader(model, ModelSource.parse(location, classLoader), session, 0, false)));
        TensorAllocator allocator = SharedMemory.allocator(new SharedMemorySettings(shmDir, shmPoolFile,
                Math.max(shmMax, shmPoolFile), SharedMemorySettings.DEFAULT_JANITOR_PERIOD));
        WorkerLimits limits = new WorkerLimits(helloTimeout, idleTimeout, frameTimeout, writeDeadline,
                defaults.maxQueuedBytes(), maxConnections, maxPerProcess, defaults.inlineBudgetBytes(),
                defaults.maxPoolBytesPerConnection());
        WorkerServer server = WorkerServer.start(new WorkerSettings(socket, users, threads, queue, timeout, name, maxBatch,
                maxDelay, limits), registry, allocator, paddings);
        if (dynamicModels) {
            server.allowDynamicModels();
        }
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
        if (exitWhenIdle != null) {
            exitWhenIdle(server, exitWhenIdle); // before anyone is told it listens: every client is remembered
        }
        System.out.println("worker " + name + " listening on " + socket);
        System.out.flush();
        stopped.await();
    }

    /**
     * ONNX Runtime settings for a device: {@code cpu}, or {@code cuda:N}, which runs on the only GPU the worker sees
     * (its launcher sets CUDA_VISIBLE_DEVICES=N) and needs ONNX Runtime's CUDA execution provider.
     */
    static OnnxSessionSettings sessionFor(String device) {
        if (device.equals("cpu")) {
            return OnnxSessionSettings.DEFAULT;
        }
        if (!device.matches("cuda:\\d+")) {
            throw usage("--device is cpu or cuda:N, not " + device);
        }
        EnumSet<OrtProvider> providers = OrtEnvironment.getAvailableProviders();
        if (!providers.contains(OrtProvider.CUDA)) {
            throw new IllegalStateException("Device " + device + " needs ONNX Runtime's CUDA execution provider, which"
                    + " this ONNX Runtime does not have (available: " + providers + "): put"
                    + " com.microsoft.onnxruntime:onnxruntime_gpu on the worker's class path, or use device cpu");
        }
        return OnnxSessionSettings.DEFAULT.onCuda(0);
    }

    private static String require(String option, String value) {
        if (value == null) {
            throw usage(option + " needs a value");
        }
        return value;
    }

    /**
     * Exits (through the shutdown hook) once no client has been connected for {@code idle} and no process that ever
     * connected still runs: the last user is gone. Connections alone would not do: an application that connected once
     * at startup (Dev Services' build step does) and makes its first call minutes later, when a lazy model is first
     * used, must find the daemon still there.
     */
    private static void exitWhenIdle(WorkerServer server, Duration idle) {
        server.remembersClients = true;
        Thread.ofPlatform().daemon().name("worker-idle-exit").start(() -> {
            long idleSince = System.nanoTime();
            for (;;) {
                try {
                    Thread.sleep(Math.max(10, idle.toMillis() / 10));
                } catch (InterruptedException e) {
                    return;
                }
                // processes first: it forgets those that ended on every tick, connected clients or not
                if (server.aClientProcessLives() || server.connections() > 0) {
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince >= idle.toNanos()) {
                    System.exit(0);
                }
            }
        });
    }

    private static ProcessHandle parent(String pid) {
        long id;
        try {
            id = Long.parseLong(pid);
        } catch (NumberFormatException e) {
            throw usage("--parent-pid takes a process id, not " + pid);
        }
        return ProcessHandle.of(id).filter(ProcessHandle::isAlive).orElseThrow(() -> new IllegalStateException(
                "--parent-pid " + id + ": no such process; a worker with a parent serves only while its parent runs"));
    }

    /**
     * Exits (through the shutdown hook, which closes the socket and the shared memory) once {@code parent} has ended.
     * Linux could signal it (PR_SET_PDEATHSIG) but Java cannot ask for that, and {@code onExit()} of a process that is
     * not a child polls ever more slowly, up to every 5 s; a check every 100 ms reads one /proc file.
     */
    /** How long a worker whose parent ended gives its shutdown hook before it halts. */
    static final long EXIT_GRACE_MILLIS = 1000;

    private static void watchParent(ProcessHandle parent, String name) {
        Thread.ofPlatform().daemon().name("worker-parent-watch").start(() -> {
            while (parent.isAlive()) {
                try {
                    Thread.sleep(PARENT_CHECK_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.err.println("worker " + name + ": its parent process " + parent.pid() + " ended; exiting");
            // Nobody waits for an orderly close any more: the shutdown hook gets a second, then the process ends
            // whatever it is doing (its memfd pools go with it; a socket file left behind is replaced by the next).
            Thread.ofPlatform().daemon().name("worker-exit-deadline").start(() -> {
                try {
                    Thread.sleep(EXIT_GRACE_MILLIS);
                } catch (InterruptedException e) {
                    // halting now
                }
                Runtime.getRuntime().halt(0);
            });
            System.exit(0);
        });
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
                + " [--shm-dir /dev/shm] [--shm-max 1G] [--max-batch 8] [--max-delay 10ms] [--device cpu|cuda:N] [--intra-op-threads N] [--shm-pool-file 64M] [--dynamic-models] [--exit-when-idle 10s] [--parent-pid N]"
                + " [--hello-timeout 5s] [--idle-timeout 0s] [--frame-timeout 10s] [--write-deadline 10s]"
                + " [--max-connections 512] [--max-connections-per-process 64]");
    }
}
