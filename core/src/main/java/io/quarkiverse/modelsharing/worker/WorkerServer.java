package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelInfo;
import io.quarkiverse.modelsharing.onnx.OnnxModelInspector;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.protocol.ByteBudget;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixServerSocket;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.registry.ModelNotFoundException;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.PrivateDirectory;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * A worker daemon: serves the models of its registry to every process of the allowed users on the host, over a
 * Unix domain socket. A client sends its pools once per connection (sealed memfds, as file descriptors); inputs then
 * arrive as descriptors into them and are read in place. Outputs are written into a pool of the connection's own,
 * which only that client receives, and leased to it until it releases them or disconnects: no client can read, or be
 * handed, another client's memory.
 */
public final class WorkerServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(WorkerServer.class.getName());

    final WorkerSettings settings;
    final ModelRegistry registry;
    /** The worker's shared memory: the template of each connection's pool, or off-heap memory without it. */
    final TensorAllocator allocator;
    private final FrameCodec codec = new FrameCodec();
    private final UnixServerSocket server;
    private final ThreadPoolExecutor executor;
    /** Runs in progress, in the executor and in connection threads together: at most {@code threads}. */
    private final Semaphore runSlots;
    /** Threads that read connections; one that runs a request itself hands its connection to another first. */
    final ExecutorService readers = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.SECONDS,
            new java.util.concurrent.SynchronousQueue<>(), Thread.ofPlatform().daemon().name("worker-connection-", 0)
                    .factory()); // bounded by the connection limits; idle threads go after 5 s
    private final Map<String, Batcher> batchers = new ConcurrentHashMap<>();
    /**
     * How each model the worker knows pads requests of different lengths to batch them, or that it does not (empty):
     * the models it was started with from the start, a model a load registers from that load.
     */
    private final Map<String, java.util.Optional<Padding>> paddings = new ConcurrentHashMap<>();
    final AtomicInteger waiting = new AtomicInteger();
    final Set<ClientConnection> connections = ConcurrentHashMap.newKeySet();
    private final Map<Long, Integer> perProcess = new ConcurrentHashMap<>();
    /**
     * Every process that connected and may still run, as handles taken when it connected, which know its start time:
     * a pid the kernel reuses later is not mistaken for it. Read by {@link #aClientProcessLives()}.
     */
    private final Map<Long, ProcessHandle> clientProcesses = new ConcurrentHashMap<>();
    /** Processes remembered at most: a bound on what many short-lived clients can make this daemon keep. */
    static final int MAX_REMEMBERED_PROCESSES = 4096;
    /**
     * Whether admitted clients' processes are remembered ({@link #aClientProcessLives()}): set for a daemon that exits
     * when idle, which asks; others keep nothing.
     */
    volatile boolean remembersClients;
    private final ByteBudget inlineBudget;
    final String self = System.getProperty("user.name");
    /** Times a reading thread, about to run a request, handed its connection's reading to another. */
    final LongAdder readingHandOffs = new LongAdder();
    final LongAdder statusRequests = new LongAdder();
    private volatile boolean closed;
    volatile boolean dynamicModels;

    private WorkerServer(WorkerSettings settings, ModelRegistry registry, TensorAllocator allocator,
            Map<String, Padding> paddings) throws IOException {
        registry.names().forEach(name -> this.paddings.put(name, java.util.Optional.ofNullable(paddings.get(name))));
        this.settings = settings;
        this.registry = registry;
        this.allocator = allocator;
        this.inlineBudget = new ByteBudget(settings.limits().inlineBudgetBytes());
        // a dead worker's socket file is replaced, a live one never
        // with --allow-user, other users must be able to connect; their credentials are checked on each connection
        try {
            this.server = UnixServerSocket.bind(settings.socket(), 512, settings.allowedUsers().isEmpty() ? "rw-------"
                    : "rw-rw-rw-");
        } catch (UnixServerSocket.SocketInUseException e) {
            throw new ModelSharingException("Another worker already listens on " + settings.socket()
                    + "; use it, or give this one another socket");
        }
        this.executor = new ThreadPoolExecutor(settings.threads(), settings.threads(), 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), Thread.ofPlatform().name("worker-inference-", 0).factory());
        this.runSlots = new Semaphore(settings.threads(), true);
        Thread.ofPlatform().name("worker-accept").daemon().start(this::accept);
    }

    /** Connections now open. */
    public int connections() {
        return connections.size();
    }

    /**
     * Whether a process that ever connected still runs, connected or not; those that ended are forgotten. A daemon
     * that exits when idle asks this, so that an application that connected once (and calls again later) keeps it.
     */
    public boolean aClientProcessLives() {
        clientProcesses.values().removeIf(process -> !process.isAlive());
        return !clientProcesses.isEmpty();
    }

    private void rememberClientProcess(long pid) {
        ProcessHandle known = clientProcesses.get(pid);
        if (known != null && known.isAlive()) {
            return;
        }
        if (clientProcesses.size() >= MAX_REMEMBERED_PROCESSES) {
            clientProcesses.values().removeIf(process -> !process.isAlive());
            if (clientProcesses.size() >= MAX_REMEMBERED_PROCESSES) {
                return; // thousands of live users: this daemon stays anyway
            }
        }
        ProcessHandle.of(pid).ifPresent(process -> clientProcesses.put(pid, process));
    }

    /**
     * Lets clients register models by location: a load of {@code name=location} registers {@code name} if no model
     * has it yet (Dev Services' shared daemon serves whatever its applications ask for).
     */
    public void allowDynamicModels() {
        dynamicModels = true;
    }

    /** Starts serving on the settings' socket. */
    public static WorkerServer start(WorkerSettings settings, ModelRegistry registry, TensorAllocator allocator)
            throws IOException {
        return start(settings, registry, allocator, Map.of());
    }

    /** Starts serving, with each model of {@code paddings} batching requests of different lengths padded. */
    public static WorkerServer start(WorkerSettings settings, ModelRegistry registry, TensorAllocator allocator,
            Map<String, Padding> paddings) throws IOException {
        return new WorkerServer(settings, registry, allocator, paddings);
    }

    /**
     * Registers {@code model} from {@code source} with {@code padding} (null: none) if no model has its name, or
     * checks that the load asks for the padding the model has: a model keeps the padding it was registered (or
     * started) with, as it keeps its location, so that no client changes how another's requests are padded, and none
     * is told it gets unpadded batches when it does not. Returns null if registered or the same, else the reason.
     */
    String registerWithPadding(String model, ModelSource source, Padding padding) {
        synchronized (registry) {
            if (!registry.isRegistered(model)) {
                if (padding != null) {
                    String wrong = checkPadding(model, source, padding);
                    if (wrong != null) {
                        return wrong; // not registered: a corrected load may still register the name
                    }
                }
                // the padding first: a request that comes between the two makes a batcher that sees it
                paddings.put(model, java.util.Optional.ofNullable(padding));
                registry.register(model, OnnxModelLoader.of(model, source));
                return null;
            }
        }
        java.util.Optional<Padding> known = paddings.getOrDefault(model, java.util.Optional.empty());
        if (known.equals(java.util.Optional.ofNullable(padding))) {
            return null;
        }
        return "Model '" + model + "' is registered with " + known.map(p -> "padding " + p).orElse("no padding")
                + "; a load cannot change it to " + (padding == null ? "none" : padding.toString())
                + ": register the model under another name";
    }

    /**
     * Why {@code padding} does not fit the model at {@code source}, read from its file without loading it; null if
     * it fits, or if the file cannot be read that way (its load then says what is wrong).
     */
    private static String checkPadding(String model, ModelSource source, Padding padding) {
        OnnxModelInfo info;
        try {
            info = OnnxModelInspector.inspect(source);
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
        try {
            padding.checkAgainst(model, info.inputs(), info.outputs());
            return null;
        } catch (TensorException e) {
            return e.getMessage();
        }
    }

    /** The padding a model batches with, or null. */
    Padding padding(String model) {
        return paddings.getOrDefault(model, java.util.Optional.empty()).orElse(null);
    }

    /** Counts a new connection from {@code pid}, or says why it is refused: too many, in all or from that process. */
    private String admitConnection(long pid) {
        WorkerLimits limits = settings.limits();
        if (connections.size() >= limits.maxConnections()) {
            return "Worker '" + settings.name() + "' has " + connections.size() + " connections open, its limit; retry"
                    + " later";
        }
        int[] mine = new int[1];
        perProcess.compute(pid, (key, count) -> {
            mine[0] = count == null ? 0 : count;
            return mine[0] >= limits.maxConnectionsPerProcess() ? count : Integer.valueOf(mine[0] + 1);
        });
        if (mine[0] >= limits.maxConnectionsPerProcess()) {
            return "Process " + pid + " has " + mine[0] + " connections to worker '" + settings.name() + "', the limit"
                    + " for one process";
        }
        return null;
    }

    /** A connection from {@code pid} ended. */
    void connectionClosed(ClientConnection connection, long pid) {
        connections.remove(connection);
        perProcess.computeIfPresent(pid, (key, count) -> count <= 1 ? null : count - 1);
    }

    /** Bytes of outputs held in the connections' output pools (leased, or being written). */
    public long outputBytes() {
        return connections.stream().mapToLong(ClientConnection::outputBytes).sum();
    }

    /** Requests accepted and not yet answered. */
    public int queueDepth() {
        return waiting.get();
    }

    /** How many runs the worker made, and how many requests they served: their ratio is the mean batch size. */
    public long[] batchCounts() {
        long runs = 0;
        long requests = 0;
        for (Batcher batcher : batchers.values()) {
            runs += batcher.batches.sum();
            requests += batcher.batchedRequests.sum();
        }
        return new long[] { runs, requests };
    }

    /**
     * For each padded model that has run a padded batch, the share of its padded inputs' positions that were padding
     * (0 to 1, as text), so that its bucket width can be chosen from what its clients send.
     */
    public Map<String, String> paddingWaste() {
        Map<String, String> waste = new java.util.TreeMap<>();
        batchers.forEach((model, batcher) -> {
            if (batcher.waste.any()) {
                waste.put(model, String.format(java.util.Locale.ROOT, "%.4f", batcher.waste.share()));
            }
        });
        return waste;
    }

    /** Runs made by the thread that read the request, without a hand-off to an inference thread. */
    public long runsInReadingThreads() {
        return batchers.values().stream().mapToLong(batcher -> batcher.runsInCaller.sum()).sum();
    }

    /** How long the oldest run in progress has been running, in milliseconds; 0 if none is. */
    public long oldestRunMillis() {
        long oldest = batchers.values().stream().mapToLong(Batcher::oldestRunStart).min().orElse(Long.MAX_VALUE);
        return oldest == Long.MAX_VALUE ? 0 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - oldest);
    }

    Batcher batcher(String model) {
        return batchers.computeIfAbsent(model,
                name -> new Batcher(name, registry, TensorAllocator.offHeap(), executor, runSlots, settings.maxBatch(),
                        settings.maxDelay().toNanos(), padding(name)));
    }

    static Frame.ErrorCode code(RuntimeException failure) {
        if (failure instanceof WorkerException worker) {
            return worker.code();
        }
        if (failure instanceof ModelNotFoundException) {
            return Frame.ErrorCode.UNKNOWN_MODEL;
        }
        return failure instanceof TensorException ? Frame.ErrorCode.INVALID_INPUT : Frame.ErrorCode.INTERNAL;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        connections.forEach(ClientConnection::close);
        executor.shutdownNow();
        readers.shutdownNow(); // the server socket removed its file
        Path directory = settings.socket().toAbsolutePath().getParent();
        if (directory != null && directory.getFileName().toString().startsWith("quarkus-model-sharing-")) {
            PrivateDirectory.removeIfEmpty(directory); // a socket in the per-user directory: the last one out removes it
        }
        // Runs in progress end before whoever owns the registry and the pool closes them under a running model.
        try {
            if (!runSlots.tryAcquire(settings.threads(), 30, TimeUnit.SECONDS)) {
                LOG.log(Level.WARNING, "Worker '" + settings.name() + "' closed with runs still in progress after 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void accept() {
        while (!closed) {
            try {
                UnixSocket channel = server.accept();
                FrameChannel frames = new FrameChannel(channel, codec, settings.limits().channel(inlineBudget));
                long pid = channel.peer().pid();
                String refusal = admitConnection(pid);
                if (refusal != null) {
                    try {
                        frames.write(new Frame.Error(0, Frame.ErrorCode.OVERLOADED, refusal));
                    } catch (IOException e) {
                        // it went away first
                    }
                    frames.close();
                    continue;
                }
                if (remembersClients) {
                    rememberClientProcess(pid); // admitted: a refused process keeps nothing alive
                }
                ClientConnection connection = new ClientConnection(this, frames, pid);
                connections.add(connection);
                try {
                    readers.execute(() -> connection.serve(true));
                } catch (RejectedExecutionException closing) {
                    connection.close();
                    return;
                } catch (RuntimeException | Error e) {
                    connection.close(); // no thread for it: this one connection is dropped
                    throw e;
                }
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.log(Level.WARNING, "Accepting a connection failed", e);
            } catch (RuntimeException | Error e) {
                // e.g. no thread could be made for it: that connection is dropped, the worker keeps accepting
                LOG.log(Level.WARNING, "Worker '" + settings.name() + "' could not serve a new connection: " + e);
            }
        }
    }
}
