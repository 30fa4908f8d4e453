package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

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
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * One client connection of a {@link WorkerServer}: its requests in flight and the outputs leased to it. Read by one
 * thread at a time; a reading thread that runs a request itself hands the reading to another first.
 */
final class ClientConnection {

    private static final System.Logger LOG = System.getLogger(ClientConnection.class.getName());

    private final WorkerServer server;
    private final FrameChannel channel;
    private final Map<Long, List<Tensor>> leases = new ConcurrentHashMap<>();
    /** Requests accepted and not yet answered; a cancelled one is removed, and its outputs dropped when they come. */
    private final Set<Long> inFlight = ConcurrentHashMap.newKeySet();
    /** Whether the client maps shared memory; if not, its outputs travel inline. */
    private volatile boolean clientShares = true;
    private volatile boolean open = true;

    ClientConnection(WorkerServer server, FrameChannel channel) {
        this.server = server;
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
        Set<String> allowed = server.settings.allowedUsers().isEmpty() ? Set.of(server.self) : server.settings.allowedUsers();
        if (!allowed.contains(user)) {
            reply(new Frame.Error(0, Frame.ErrorCode.FORBIDDEN, "User '" + user + "' may not use worker '"
                    + server.settings.name() + "'; allowed users: " + new TreeSet<>(allowed)));
            return false;
        }
        Frame hello = channel.read();
        if (!(hello instanceof Frame.Hello h) || h.version() != FrameCodec.VERSION) {
            reply(new Frame.Error(0, Frame.ErrorCode.PROTOCOL, "expected a version-" + FrameCodec.VERSION
                    + " hello, got " + hello));
            return false;
        }
        int capabilities = Frame.INLINE_TENSORS | (server.allocator.kind() == StorageKind.SHARED ? Frame.SHARED_MEMORY : 0);
        clientShares = (h.capabilities() & Frame.SHARED_MEMORY) != 0 && (capabilities & Frame.SHARED_MEMORY) != 0;
        reply(new Frame.Welcome(0, FrameCodec.VERSION, capabilities, server.settings.name()));
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
            case Frame.Status status -> {
                server.statusRequests.increment();
                reply(new Frame.StatusReply(status.requestId(), status()));
            }
            case Frame.Heartbeat heartbeat -> reply(heartbeat);
            default -> reply(new Frame.Error(frame.requestId(), Frame.ErrorCode.PROTOCOL,
                    "a worker does not take " + frame.getClass().getSimpleName() + " frames"));
        }
        return false;
    }

    /** Models, queue depth, batching and per-model loads, as name-value pairs. */
    private Map<String, String> status() {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("models", String.join(",", new TreeSet<>(server.registry.names())));
        values.put("pid", Long.toString(ProcessHandle.current().pid()));
        values.put("queue", Integer.toString(server.queueDepth()));
        long[] batches = server.batchCounts();
        values.put("runs", Long.toString(batches[0]));
        values.put("requests", Long.toString(batches[1]));
        values.put("runs-in-reading-thread", Long.toString(server.runsInReadingThreads()));
        values.put("reading-hand-offs", Long.toString(server.readingHandOffs.sum()));
        values.put("status-requests", Long.toString(server.statusRequests.sum()));
        values.put("leases", Integer.toString(leases.size()));
        server.registry.stats().forEach((model, stats) -> values.put("loads:" + model, Long.toString(stats.loads())));
        return values;
    }

    private void load(Frame.Load load) {
        String model = load.model();
        int equals = model.indexOf('=');
        if (equals > 0) {
            if (!server.dynamicModels) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.UNKNOWN_MODEL, "Worker '" + server.settings.name()
                        + "' serves only the models it was started with; it cannot register " + model));
                return;
            }
            String location = model.substring(equals + 1);
            model = model.substring(0, equals);
            synchronized (server.registry) {
                if (!server.registry.isRegistered(model)) {
                    server.registry.register(model, OnnxModelLoader.of(model, ModelSource.parse(location,
                            WorkerServer.class.getClassLoader())));
                }
            }
        }
        try (ModelHandle<InferenceModel> handle = server.registry.acquire(model, InferenceModel.class)) {
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
        if (!server.registry.isRegistered(infer.model())) {
            reply(new Frame.Error(id, Frame.ErrorCode.UNKNOWN_MODEL,
                    new ModelNotFoundException(infer.model(), server.registry.names()).getMessage()));
            return false;
        }
        if (server.waiting.incrementAndGet() > server.settings.maxQueue()) {
            server.waiting.decrementAndGet();
            reply(new Frame.Error(id, Frame.ErrorCode.OVERLOADED, "Worker '" + server.settings.name()
                    + "' is overloaded: " + server.settings.maxQueue() + " requests are already waiting; retry later"));
            return false;
        }
        Map<String, Tensor> inputs;
        try {
            inputs = WireTensors.fromWire(infer.inputs(), server.allocator, false);
        } catch (RuntimeException e) {
            server.waiting.decrementAndGet();
            reply(new Frame.Error(id, Frame.ErrorCode.INVALID_INPUT, e.getMessage()));
            return false;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
                infer.timeoutMillis() > 0 ? infer.timeoutMillis() : server.settings.defaultTimeout().toMillis());
        inFlight.add(id);
        Batcher batcher = server.batcher(infer.model());
        Runnable here = batcher.take(new Batcher.Pending(id, inputs, deadline, outcome -> {
            server.waiting.decrementAndGet();
            inputs.values().forEach(Tensor::close);
            answer(id, infer.model(), outcome);
        }));
        if (here == null) {
            return false;
        }
        if (batcher.isQuick()) {
            runHere(here); // the connection's next frames wait for one short run, then this thread reads them
            return false;
        }
        boolean handedOff = false;
        try {
            server.readers.execute(() -> serve(false));
            server.readingHandOffs.increment();
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
            LOG.log(Level.WARNING, "A request on worker '" + server.settings.name() + "' failed outside its model run", e);
        }
    }

    private void answer(long id, String model, Batcher.Outcome outcome) {
        boolean wanted = inFlight.remove(id) && open;
        if (outcome.failure() != null) {
            if (wanted) {
                reply(new Frame.Error(id, WorkerServer.code(outcome.failure()), outcome.failure() instanceof WorkerException
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
            var wire = WireTensors.toWire(outcome.outputs(), clientShares ? server.allocator : TensorAllocator.offHeap(),
                    copies);
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
        server.connections.remove(this);
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
