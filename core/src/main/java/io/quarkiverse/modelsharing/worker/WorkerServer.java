package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.ProtocolException;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelNotFoundException;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * A worker daemon: serves the models of its registry to every process of the allowed users on the host, over a
 * Unix domain socket. Inputs arrive as shared-memory descriptors and are read in place; outputs are written into
 * the worker's pool and leased to the connection until the client releases them or disconnects.
 */
public final class WorkerServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(WorkerServer.class.getName());

    private final WorkerSettings settings;
    private final ModelRegistry registry;
    private final TensorAllocator allocator;
    private final FrameCodec codec = new FrameCodec();
    private final ServerSocketChannel server;
    private final ThreadPoolExecutor executor;
    /** Runs in progress, in the executor and in connection threads together: at most {@code threads}. */
    private final Semaphore runSlots;
    /** Threads that read connections; one that runs a request itself hands its connection to another first. */
    private final ExecutorService readers = Executors.newCachedThreadPool(
            Thread.ofPlatform().daemon().name("worker-connection-", 0).factory());
    private final Map<String, Batcher> batchers = new ConcurrentHashMap<>();
    private final AtomicInteger waiting = new AtomicInteger();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final String self = System.getProperty("user.name");
    private volatile boolean closed;
    private volatile boolean dynamicModels;

    private WorkerServer(WorkerSettings settings, ModelRegistry registry, TensorAllocator allocator) throws IOException {
        this.settings = settings;
        this.registry = registry;
        this.allocator = allocator;
        if (Files.exists(settings.socket()) && answers(settings.socket())) {
            throw new ModelSharingException("Another worker already listens on " + settings.socket()
                    + "; use it, or give this one another socket");
        }
        Files.deleteIfExists(settings.socket()); // a dead worker's socket file
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(settings.socket()));
        Files.setPosixFilePermissions(settings.socket(), PosixFilePermissions.fromString("rw-------"));
        this.executor = new ThreadPoolExecutor(settings.threads(), settings.threads(), 0, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), Thread.ofPlatform().name("worker-inference-", 0).factory());
        this.runSlots = new Semaphore(settings.threads(), true);
        Thread.ofPlatform().name("worker-accept").daemon().start(this::accept);
    }

    /** Whether a process accepts connections on {@code socket}. */
    public static boolean answers(Path socket) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Connections now open. */
    public int connections() {
        return connections.size();
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
        return new WorkerServer(settings, registry, allocator);
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

    private Batcher batcher(String model) {
        return batchers.computeIfAbsent(model,
                name -> new Batcher(name, registry, allocator, executor, runSlots, settings.maxBatch(),
                        settings.maxDelay().toNanos()));
    }

    private static Frame.ErrorCode code(RuntimeException failure) {
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
        connections.forEach(Connection::close);
        executor.shutdownNow();
        readers.shutdownNow();
        Files.deleteIfExists(settings.socket());
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
                SocketChannel channel = server.accept();
                Connection connection = new Connection(new FrameChannel(channel, codec));
                connections.add(connection);
                try {
                    readers.execute(() -> connection.serve(true));
                } catch (RejectedExecutionException closing) {
                    connection.close();
                    return;
                }
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.log(Level.WARNING, "Accepting a connection failed", e);
            }
        }
    }

    /** One client connection: its requests in flight and the outputs leased to it. */
    private final class Connection {
        private final FrameChannel channel;
        private final Map<Long, List<Tensor>> leases = new ConcurrentHashMap<>();
        /** Requests accepted and not yet answered; a cancelled one is removed, and its outputs dropped when they come. */
        private final Set<Long> inFlight = ConcurrentHashMap.newKeySet();
        /** Whether the client maps shared memory; if not, its outputs travel inline. */
        private volatile boolean clientShares = true;
        private volatile boolean open = true;

        Connection(FrameChannel channel) {
            this.channel = channel;
        }

        /**
         * Reads and handles frames until the connection ends, or until this thread runs a request itself, having
         * handed the reading to another thread.
         */
        void serve(boolean admitting) {
            boolean handedOff = false;
            try {
                if (admitting && !admit()) {
                    return;
                }
                while (open && !handedOff) {
                    handedOff = handle(channel.read());
                }
            } catch (ProtocolException e) {
                reply(new Frame.Error(0, Frame.ErrorCode.PROTOCOL, e.getMessage()));
            } catch (IOException e) {
                // the client went away
            } finally {
                if (!handedOff) {
                    close();
                }
            }
        }

        /** Checks the peer's user and the hello; refuses with a reason the client can show. */
        private boolean admit() throws IOException {
            UnixDomainPrincipal peer = channel.socket().getOption(ExtendedSocketOptions.SO_PEERCRED);
            String user = peer.user().getName();
            Set<String> allowed = settings.allowedUsers().isEmpty() ? Set.of(self) : settings.allowedUsers();
            if (!allowed.contains(user)) {
                reply(new Frame.Error(0, Frame.ErrorCode.FORBIDDEN, "User '" + user + "' may not use worker '"
                        + settings.name() + "'; allowed users: " + new TreeSet<>(allowed)));
                return false;
            }
            Frame hello = channel.read();
            if (!(hello instanceof Frame.Hello h) || h.version() != FrameCodec.VERSION) {
                reply(new Frame.Error(0, Frame.ErrorCode.PROTOCOL, "expected a version-" + FrameCodec.VERSION
                        + " hello, got " + hello));
                return false;
            }
            int capabilities = Frame.INLINE_TENSORS | (allocator.kind() == StorageKind.SHARED ? Frame.SHARED_MEMORY : 0);
            clientShares = (h.capabilities() & Frame.SHARED_MEMORY) != 0 && (capabilities & Frame.SHARED_MEMORY) != 0;
            reply(new Frame.Welcome(0, FrameCodec.VERSION, capabilities, settings.name()));
            return true;
        }

        /** Handles one frame; returns whether this thread ran a request and no longer reads the connection. */
        private boolean handle(Frame frame) {
            switch (frame) {
                case Frame.Infer infer -> {
                    return submit(infer);
                }
                case Frame.Load load -> load(load);
                case Frame.Release release -> release(release.requestId());
                case Frame.Cancel cancel -> cancel(cancel.requestId());
                case Frame.Status status -> reply(new Frame.StatusReply(status.requestId(), status()));
                case Frame.Heartbeat heartbeat -> reply(heartbeat);
                default -> reply(new Frame.Error(frame.requestId(), Frame.ErrorCode.PROTOCOL,
                        "a worker does not take " + frame.getClass().getSimpleName() + " frames"));
            }
            return false;
        }

        /** Models, queue depth, batching and per-model loads, as name-value pairs. */
        private Map<String, String> status() {
            Map<String, String> values = new LinkedHashMap<>();
            values.put("models", String.join(",", new TreeSet<>(registry.names())));
            values.put("pid", Long.toString(ProcessHandle.current().pid()));
            values.put("queue", Integer.toString(queueDepth()));
            values.put("runs", Long.toString(batchCounts()[0]));
            values.put("requests", Long.toString(batchCounts()[1]));
            values.put("runs-in-reading-thread", Long.toString(batchers.values().stream()
                    .mapToLong(batcher -> batcher.runsInCaller.sum()).sum()));
            values.put("leases", Integer.toString(leases.size()));
            registry.stats().forEach((model, stats) -> values.put("loads:" + model, Long.toString(stats.loads())));
            return values;
        }

        private void load(Frame.Load load) {
            String model = load.model();
            int equals = model.indexOf('=');
            if (equals > 0) {
                if (!dynamicModels) {
                    reply(new Frame.Error(load.requestId(), Frame.ErrorCode.UNKNOWN_MODEL, "Worker '" + settings.name()
                            + "' serves only the models it was started with; it cannot register " + model));
                    return;
                }
                String location = model.substring(equals + 1);
                model = model.substring(0, equals);
                synchronized (registry) {
                    if (!registry.isRegistered(model)) {
                        registry.register(model, OnnxModelLoader.of(model, ModelSource.parse(location,
                                WorkerServer.class.getClassLoader())));
                    }
                }
            }
            try (ModelHandle<InferenceModel> handle = registry.acquire(model, InferenceModel.class)) {
                reply(new Frame.Loaded(load.requestId(), handle.name(), handle.get().inputs(), handle.get().outputs()));
            } catch (ModelNotFoundException e) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.UNKNOWN_MODEL, e.getMessage()));
            } catch (ModelSharingException e) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.LOAD_FAILED, e.getMessage()));
            }
        }

        /**
         * Queues a request, or runs it in this thread when a run slot is free, which saves a thread hand-off on the
         * way to the model: the connection's reading goes on in another thread meanwhile, so later requests are still
         * read, bounded and cancellable. Returns whether this thread ran it.
         */
        private boolean submit(Frame.Infer infer) {
            long id = infer.requestId();
            if (!registry.isRegistered(infer.model())) {
                reply(new Frame.Error(id, Frame.ErrorCode.UNKNOWN_MODEL,
                        new ModelNotFoundException(infer.model(), registry.names()).getMessage()));
                return false;
            }
            if (waiting.incrementAndGet() > settings.maxQueue()) {
                waiting.decrementAndGet();
                reply(new Frame.Error(id, Frame.ErrorCode.OVERLOADED, "Worker '" + settings.name()
                        + "' is overloaded: " + settings.maxQueue() + " requests are already waiting; retry later"));
                return false;
            }
            Map<String, Tensor> inputs;
            try {
                inputs = WireTensors.fromWire(infer.inputs(), allocator, false);
            } catch (RuntimeException e) {
                waiting.decrementAndGet();
                reply(new Frame.Error(id, Frame.ErrorCode.INVALID_INPUT, e.getMessage()));
                return false;
            }
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
                    infer.timeoutMillis() > 0 ? infer.timeoutMillis() : settings.defaultTimeout().toMillis());
            inFlight.add(id);
            Runnable here = batcher(infer.model()).take(new Batcher.Pending(id, inputs, deadline, outcome -> {
                waiting.decrementAndGet();
                inputs.values().forEach(Tensor::close);
                answer(id, infer.model(), outcome);
            }));
            if (here == null) {
                return false;
            }
            boolean handedOff = false;
            try {
                readers.execute(() -> serve(false));
                handedOff = true;
            } catch (RejectedExecutionException e) {
                // the worker is closing: run it, then keep reading until the connection closes
            } finally {
                runHere(here); // whatever became of the hand-off: the request holds a run slot and awaits its answer
            }
            return handedOff;
        }

        /** Runs a request in this thread; a failure is the request's alone, never the connection's. */
        private void runHere(Runnable request) {
            try {
                request.run();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.WARNING, "A request on worker '" + settings.name() + "' failed outside its model run", e);
            }
        }

        private void answer(long id, String model, Batcher.Outcome outcome) {
            boolean wanted = inFlight.remove(id) && open;
            if (outcome.failure() != null) {
                if (wanted) {
                    reply(new Frame.Error(id, code(outcome.failure()), outcome.failure() instanceof WorkerException
                            || outcome.failure() instanceof TensorException ? outcome.failure().getMessage()
                                    : "Model '" + model + "' failed: " + outcome.failure().getMessage()));
                }
                return;
            }
            List<Tensor> outputs = new ArrayList<>(outcome.outputs().values());
            if (!wanted) {
                outputs.forEach(Tensor::close); // cancelled, or the client is gone
                return;
            }
            try {
                List<Tensor> copies = new ArrayList<>();
                var wire = WireTensors.toWire(outcome.outputs(), clientShares ? allocator : TensorAllocator.offHeap(), copies);
                outputs.addAll(copies);
                leases.put(id, outputs);
                reply(new Frame.Result(id, wire));
                if (!open) {
                    release(id);
                }
            } catch (RuntimeException e) {
                outputs.forEach(Tensor::close);
                reply(new Frame.Error(id, Frame.ErrorCode.INTERNAL, "Model '" + model + "' failed: " + e.getMessage()));
            }
        }

        private void cancel(long id) {
            if (inFlight.remove(id)) {
                reply(new Frame.Error(id, Frame.ErrorCode.CANCELLED, "Request " + id + " was cancelled before it ran"));
            } else {
                release(id);
            }
        }

        private void release(long id) {
            List<Tensor> leased = leases.remove(id);
            if (leased != null) {
                leased.forEach(Tensor::close);
            }
        }

        private void reply(Frame frame) {
            try {
                channel.write(frame);
            } catch (IOException e) {
                close();
            }
        }

        /** Ends the connection: every lease it held is released at once, whatever state it was in. */
        void close() {
            if (!open) {
                return;
            }
            open = false;
            connections.remove(this);
            inFlight.clear();
            List<Long> leased = new ArrayList<>(leases.keySet());
            leased.forEach(this::release);
            try {
                channel.close();
            } catch (IOException e) {
                // already gone
            }
        }
    }
}
