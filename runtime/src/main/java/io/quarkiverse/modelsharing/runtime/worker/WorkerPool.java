package io.quarkiverse.modelsharing.runtime.worker;

import java.io.IOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.shm.PrivateDirectory;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.SharedWorkerDaemon;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerConnection;
import io.quarkiverse.modelsharing.worker.WorkerMain;

/**
 * The application's workers: in managed mode, worker processes it starts per device, restarts with back-off when
 * they die, and stops with the application; in external mode, a node-level daemon's socket. Requests go to the
 * workers round robin.
 */
public final class WorkerPool implements AutoCloseable {

    /** The first delay before restarting a worker that died, doubled for each start that did not stay up. */
    static final Duration FIRST_BACKOFF = Duration.ofMillis(100);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    private final List<ManagedWorker> managed = new ArrayList<>();
    private final Map<String, String> remoteNames = new LinkedHashMap<>();
    /** Models every worker loads as soon as it is connected, at startup and again after a restart. */
    private volatile List<String> eager = List.of();
    private volatile Duration eagerTimeout = Duration.ZERO;
    private final List<WorkerConnection> connections = new ArrayList<>();
    private final AtomicInteger next = new AtomicInteger();
    private final LongAdder requests = new LongAdder();
    private final LongAdder requestNanos = new LongAdder();
    private final String description;
    private Path socketDirectory;
    private final List<WorkerHeartbeat.Watched> watched = new ArrayList<>();
    private WorkerHeartbeat heartbeat;

    private WorkerPool(String description) {
        this.description = description;
    }

    /** No workers: every model runs in process. */
    public static WorkerPool none() {
        return new WorkerPool("no workers");
    }

    public boolean isEmpty() {
        return connections.isEmpty();
    }

    /**
     * Connects to a node-level worker daemon, or to a shared daemon that registers models on demand: each model of
     * {@code register} (name to location) is registered on every new connection, under a name qualified by its
     * location so that applications with a same-named model do not collide. Its heartbeat ({@link WorkerHeartbeat})
     * decides readiness; this application does not run the daemon, so it does not restart it.
     */
    public static WorkerPool external(Path socket, TensorAllocator allocator, Duration timeout, Map<String, String> register,
            Map<String, Padding> paddings, Duration heartbeatInterval, Duration heartbeatTimeout) {
        return registering(socket, () -> socket, allocator, timeout, register, paddings, heartbeatInterval,
                heartbeatTimeout);
    }

    /**
     * Connects to the user's shared Dev Services daemon on {@code socket}, as {@link #external} does; a daemon that is
     * gone when a connection is needed (it left after its linger, or was killed) is started again there, with
     * {@code linger}, rather than waited for.
     */
    public static WorkerPool sharedDaemon(Path socket, Duration linger, TensorAllocator allocator, Duration timeout,
            Map<String, String> register, Map<String, Padding> paddings, Duration heartbeatInterval,
            Duration heartbeatTimeout) {
        return registering(socket, () -> SharedWorkerDaemon.findOrStart(socket, linger).socket(), allocator, timeout,
                register, paddings, heartbeatInterval, heartbeatTimeout);
    }

    private static WorkerPool registering(Path socket, Supplier<Path> connectTo, TensorAllocator allocator,
            Duration timeout, Map<String, String> register, Map<String, Padding> paddings, Duration heartbeatInterval,
            Duration heartbeatTimeout) {
        Map<String, String> locations = new LinkedHashMap<>();
        register.forEach((name, location) -> locations.put(name, resolve(location)));
        WorkerPool pool = new WorkerPool("external worker at " + socket);
        // the padding is part of the name: applications that pad a model differently never share its batches
        locations.forEach((name, location) -> pool.remoteNames.put(name, name + "@" + ModelSource.parse(location,
                WorkerPool.class.getClassLoader()).fingerprint()
                + (paddings.containsKey(name)
                        ? "-" + paddings.get(name).fingerprint()
                        : "")));
        pool.connections.add(new WorkerConnection(connectTo, allocator, clientName(), timeout, client -> {
            locations.forEach((name, location) -> client.load(pool.remoteNames.get(name) + "=" + location,
                    paddings.get(name), timeout));
            pool.loadEager(client);
        }));
        pool.watched.add(new WorkerHeartbeat.Watched(pool.description, heartbeatConnection(connectTo, heartbeatTimeout),
                () -> 0, (pid, reason) -> {
                }));
        pool.heartbeat = new WorkerHeartbeat(pool.watched, heartbeatInterval, heartbeatTimeout, timeout);
        return pool;
    }

    /** The name a model has in the workers. */
    public String remoteName(String name) {
        return remoteNames.getOrDefault(name, name);
    }

    /**
     * Starts {@code perDevice} workers on each device, serving {@code models} (name to configured location), and
     * waits until each listens. A worker that dies is started again after a delay that doubles from
     * {@link #FIRST_BACKOFF} to {@link #MAX_BACKOFF} until a start stays up for {@code stablePeriod}. Each worker
     * watches this process and leaves when it ends, even by SIGKILL. Every {@code heartbeatInterval} each worker is
     * asked for its status ({@link WorkerHeartbeat}); one that does not answer within {@code heartbeatTimeout}, or is
     * stuck in a run for longer than {@code timeout} plus {@code heartbeatTimeout}, is killed and restarted.
     *
     * @throws ModelSharingException if a worker cannot start, with what it said
     */
    public static WorkerPool managed(List<String> devices, int perDevice, Map<String, String> models,
            Map<String, Padding> paddings, List<String> workerOptions, Path shmRoot, TensorAllocator allocator,
            Duration startTimeout, Duration timeout,
            Duration stablePeriod, Duration heartbeatInterval, Duration heartbeatTimeout) {
        WorkerPool pool = new WorkerPool("managed workers on " + devices);
        try {
            // Unix socket paths are limited to 108 bytes: keep them short, in the user's private (0700) directory.
            pool.socketDirectory = PrivateDirectory.prepareChild(SharedMemorySettings.defaults().withRoot(shmRoot)
                    .directory(), "workers-" + ProcessHandle.current().pid());
            Set<String> classpath = new LinkedHashSet<>(WorkerMain.classpath());
            Map<String, String> locations = new LinkedHashMap<>();
            models.forEach((name, location) -> locations.put(name, resolve(location)));
            for (String device : devices) {
                for (int i = 0; i < perDevice; i++) {
                    Path socket = pool.socketDirectory.resolve(device.replace(':', '-') + "-" + i + ".sock");
                    ManagedWorker worker = new ManagedWorker(device, i, socket,
                            command(device, i, socket, classpath, locations, paddings, workerOptions, shmRoot), startTimeout,
                            new Backoff(FIRST_BACKOFF, MAX_BACKOFF, stablePeriod), ProcessBuilder::start, delay -> {
                            });
                    pool.managed.add(worker);
                    worker.start();
                    pool.connections.add(new WorkerConnection(() -> socket, allocator, clientName(), startTimeout,
                            pool::loadEager));
                    pool.watched.add(new WorkerHeartbeat.Watched(worker.name(),
                            heartbeatConnection(() -> socket, heartbeatTimeout), worker::pid, worker::kill));
                }
            }
            pool.heartbeat = new WorkerHeartbeat(pool.watched, heartbeatInterval, heartbeatTimeout, timeout);
            return pool;
        } catch (IOException | RuntimeException e) {
            pool.close();
            throw e instanceof ModelSharingException known ? known
                    : new ModelSharingException("Cannot start the model workers: " + e.getMessage(), e);
        }
    }

    /**
     * Loads models in every worker of the pool now, as eager models are loaded, and again in any worker that restarts
     * or reconnects: the first request finds them ready, and a model that cannot load fails startup.
     *
     * @throws ModelSharingException saying which model could not load in which workers, and why
     */
    public void loadEagerly(Set<String> names, Duration timeout) {
        eagerTimeout = timeout;
        eager = List.copyOf(new TreeSet<>(names));
        // every worker at once: startup waits for the slowest load, not for their sum
        List<CompletableFuture<Void>> loads = connections.stream()
                .map(connection -> CompletableFuture.runAsync(() -> loadEager(connection.client()))).toList();
        for (CompletableFuture<Void> load : loads) {
            try {
                load.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException failure ? failure : e;
            }
        }
    }

    private void loadEager(WorkerClient client) {
        for (String name : eager) {
            try {
                client.load(remoteName(name), eagerTimeout);
            } catch (RuntimeException e) {
                throw new ModelSharingException("Model '" + name + "' could not be loaded in " + description + ": "
                        + e.getMessage(), e);
            }
        }
    }

    /** How many worker connections the pool holds: one per managed worker, or one to the external daemon. */
    public int size() {
        return connections.size();
    }

    /** The next worker connection, round robin. */
    public WorkerConnection connection() {
        return connections.get(Math.floorMod(next.getAndIncrement(), connections.size()));
    }

    /** Process ids of the managed workers now running (empty in external mode). */
    public List<Long> pids() {
        return managed.stream().map(ManagedWorker::pid).filter(pid -> pid >= 0).toList();
    }

    /** Restarts of managed workers since the application started. */
    public long restarts() {
        return managed.stream().mapToLong(ManagedWorker::restarts).sum();
    }

    /** Records one request's round trip, for the latency meter. */
    void recordRequest(long nanos) {
        requests.increment();
        requestNanos.add(nanos);
    }

    /** Requests sent to workers, and their total round-trip time in nanoseconds. */
    public long[] requestTotals() {
        return new long[] { requests.sum(), requestNanos.sum() };
    }

    /**
     * A value the workers report in their status (e.g. {@code queue}, {@code runs}, {@code requests}), summed over
     * the workers that answer their heartbeats, as their last heartbeat found it; NaN if none answers. A metrics scrape
     * thus costs no round trip, and a worker that does not answer never holds it up.
     */
    public double workerStatus(String name) {
        Double sum = null;
        for (WorkerHeartbeat.Watched worker : watched) {
            Map<String, String> values = heartbeat.lastStatus(worker);
            if (values == null) {
                continue; // a worker that is down reports nothing
            }
            sum = sum == null ? 0.0 : sum;
            try {
                sum += Double.parseDouble(values.getOrDefault(name, "0"));
            } catch (NumberFormatException notANumber) {
                // names and lists: not for summing
            }
        }
        return sum == null ? Double.NaN : sum;
    }

    /**
     * Each worker and its state, for readiness: {@code up}, or {@code down: <why>}, e.g.
     * {@code down: pid 123 did not answer its heartbeat within 10 s}. A managed worker is up while its process runs and
     * answers its heartbeats; the external daemon, while it answers them.
     */
    public Map<String, String> status() {
        Map<String, String> status = new LinkedHashMap<>();
        for (int i = 0; i < watched.size(); i++) {
            WorkerHeartbeat.Watched worker = watched.get(i);
            String why = managed.isEmpty() ? heartbeat.verdict(worker)
                    : managed.get(i).isUp() ? heartbeat.verdict(worker) : managed.get(i).downReason();
            status.put(worker.name(), why == null ? "up" : "down: " + why);
        }
        return status;
    }

    /** Each worker: its process, device, restarts, state and last heartbeat's status, in the order of {@link #status()}. */
    public List<WorkerInfo> workers() {
        Map<String, String> states = status();
        List<WorkerInfo> workers = new ArrayList<>();
        for (int i = 0; i < watched.size(); i++) {
            WorkerHeartbeat.Watched worker = watched.get(i);
            Map<String, String> status = heartbeat.lastStatus(worker);
            status = status == null ? Map.of() : Map.copyOf(status);
            String state = states.get(worker.name());
            if (managed.isEmpty()) {
                long pid = Long.parseLong(status.getOrDefault("pid", "-1"));
                workers.add(new WorkerInfo(worker.name(), "external", pid, 0, state, status));
            } else {
                ManagedWorker process = managed.get(i);
                workers.add(new WorkerInfo(worker.name(), process.device, process.pid(), process.restarts(), state, status));
            }
        }
        return workers;
    }

    /**
     * Restarts the managed worker {@code name} ({@code cpu#0}) as if it had died: its process is killed, and its
     * supervisor starts it again after the usual back-off and loads the eager models there. Requests in flight on it
     * fail with {@link io.quarkiverse.modelsharing.worker.WorkerUnavailableException}.
     *
     * @return whether a process was killed; false if the worker is down already, its restart under way
     * @throws ModelSharingException if no managed worker has that name, or the workers are an external daemon, which
     *         this application does not run
     */
    public boolean restart(String name) {
        if (watched.isEmpty()) {
            throw new ModelSharingException("No worker is named '" + name + "': every model runs in process");
        }
        if (managed.isEmpty()) {
            throw new ModelSharingException("Worker '" + name + "' cannot be restarted: the models run in the "
                    + description + ", which this application does not run; restart the daemon where it runs");
        }
        ManagedWorker worker = managed.stream().filter(w -> w.name().equals(name)).findFirst()
                .orElseThrow(() -> new ModelSharingException("No managed worker is named '" + name + "'; the workers are "
                        + managed.stream().map(ManagedWorker::name).toList()));
        long pid = worker.pid();
        if (pid < 0) {
            return false;
        }
        worker.kill(pid, "pid " + pid + " was restarted on request");
        return true;
    }

    @Override
    public void close() {
        if (heartbeat != null) {
            heartbeat.close();
        } else {
            watched.forEach(worker -> worker.connection().close());
        }
        connections.forEach(WorkerConnection::close);
        managed.forEach(ManagedWorker::close);
        if (socketDirectory != null) {
            try (var files = Files.list(socketDirectory)) {
                files.forEach(file -> file.toFile().delete());
            } catch (IOException e) {
                // best effort
            }
            socketDirectory.toFile().delete();
            PrivateDirectory.removeIfEmpty(socketDirectory.getParent());
        }
    }

    private static ProcessBuilder command(String device, int index, Path socket, Set<String> classpath,
            Map<String, String> models, Map<String, Padding> paddings, List<String> options, Path shmRoot) {
        List<String> command = new ArrayList<>(WorkerMain.command(classpath));
        command.addAll(List.of("--socket", socket.toString(), "--name", device + "#" + index, "--device", device,
                "--shm-dir", shmRoot.toString(), "--parent-pid", Long.toString(ProcessHandle.current().pid())));
        models.forEach((name, location) -> command.addAll(List.of("--model", name + "=" + location)));
        paddings.forEach((name, padding) -> command.addAll(List.of("--padding", name + "=" + padding)));
        command.addAll(options);
        ProcessBuilder builder = new ProcessBuilder(command);
        // Each worker sees only its own GPU; a CPU worker sees none.
        builder.environment().put("CUDA_VISIBLE_DEVICES", device.startsWith("cuda:") ? device.substring(5) : "");
        return builder;
    }

    /**
     * A location that a worker process, which has a class path of its own, can load: a file as an absolute path, a
     * classpath resource of this application as the file it is (a resource in a directory) or as the entry of the jar
     * it is in ({@code jar:file:...!/...}).
     *
     * @throws ModelSharingException if the resource is not on this application's class path, naming the loader searched
     */
    static String resolve(String location) {
        if (location.startsWith(ModelSource.JAR_PREFIX)) {
            return location; // a jar's entry, named as the workers read it
        }
        if (!location.startsWith(ModelSource.CLASSPATH_PREFIX)) {
            return Path.of(location).toAbsolutePath().toString();
        }
        String resource = location.substring(ModelSource.CLASSPATH_PREFIX.length());
        resource = resource.startsWith("/") ? resource.substring(1) : resource;
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        URL url = loader.getResource(resource);
        if (url == null) {
            throw new ModelSharingException("Model resource " + resource + " is not on the application's class path"
                    + " (searched " + loader + "): add the jar or directory that has it, or configure a file path");
        }
        try {
            if ("file".equals(url.getProtocol())) {
                return Path.of(url.toURI()).toString();
            }
            if ("jar".equals(url.getProtocol())) {
                // the connection parses the URL, decoding the entry's name (a space is %20 in it), and opens nothing
                JarURLConnection entry = (JarURLConnection) url.openConnection();
                return ModelSource.jarLocation(Path.of(entry.getJarFileURL().toURI()), entry.getEntryName());
            }
        } catch (URISyntaxException | IOException | RuntimeException e) {
            throw new ModelSharingException("Cannot locate model resource " + resource + " for the workers: " + e.getMessage(),
                    e);
        }
        throw new ModelSharingException(
                "Model resource " + resource + " is at " + url + ", which a worker process cannot read");
    }

    /** The heartbeat's own connection to a worker: no tensors travel on it. */
    private static WorkerConnection heartbeatConnection(Supplier<Path> socket, Duration heartbeatTimeout) {
        return new WorkerConnection(socket, TensorAllocator.offHeap(), clientName() + "-heartbeat", heartbeatTimeout);
    }

    private static String clientName() {
        return "quarkus-" + ProcessHandle.current().pid();
    }
}
