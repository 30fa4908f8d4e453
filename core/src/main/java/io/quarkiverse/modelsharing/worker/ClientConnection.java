package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.ProtocolException;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelNotFoundException;
import io.quarkiverse.modelsharing.shm.PeerPools;
import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * One client connection of a {@link WorkerServer}: its requests in flight, the pools the client sent, the pool its
 * outputs are written into and the outputs leased to it. Read by one thread at a time; a reading thread that runs a
 * request itself hands the reading to another first.
 * <p>
 * Everything the client can reach is the connection's own: its inputs resolve only in the pools it sent (or in this
 * connection's output pool, when it sends an output back), and its outputs live in a pool that no other client
 * receives. When the connection ends, its leases end, the client's pools are unmapped once the runs reading them are
 * done, and the output pool is closed (the client may keep reading the outputs it still holds: no one reuses them).
 */
final class ClientConnection {

    private static final System.Logger LOG = System.getLogger(ClientConnection.class.getName());
    /** A connection's output pool grows by files of at most this size (a larger output gets a file of its own). */
    static final long OUTPUT_POOL_FILE_BYTES = 4L << 20;
    /** Pools a client may send on one connection. */
    static final int MAX_CLIENT_POOLS = 1024;

    private final WorkerServer server;
    private final FrameChannel channel;
    private final Map<Long, List<Tensor>> leases = new ConcurrentHashMap<>();
    /** Requests accepted and not yet answered; a cancelled one is removed, and its outputs dropped when they come. */
    private final Set<Long> inFlight = ConcurrentHashMap.newKeySet();
    /** Requests handed to a batcher and not yet answered, so that a cancel can drop one that has not started. */
    private final Map<Long, Batcher.Pending> pending = new ConcurrentHashMap<>();
    private final PeerPools clientPools;
    /** This connection's output pool's files that the client has been sent; guarded by itself, with the writes. */
    private final Set<String> sentPools = new HashSet<>();
    private volatile SharedMemoryPool outputs;
    /** Whether the client maps shared memory; if not, its outputs travel inline. */
    private volatile boolean clientShares = true;
    private volatile boolean open = true;
    /** Requests between decoding and answer; the pools they read close when the last one is done. Guarded by this. */
    private int active;

    private final long pid;

    ClientConnection(WorkerServer server, FrameChannel channel, long pid) {
        this.server = server;
        this.channel = channel;
        this.pid = pid;
        channel.onStall(this::close); // a client that leaves its answers unread: its leases end now
        this.clientPools = new PeerPools("a client of worker '" + server.settings.name() + "'", MAX_CLIENT_POOLS,
                server.settings.limits().maxPoolBytesPerConnection());
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
        } catch (java.net.SocketTimeoutException e) {
            reply(new Frame.Error(0, Frame.ErrorCode.TIMEOUT, "Worker '" + server.settings.name() + "' closes the"
                    + " connection: " + e.getMessage()));
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
        UnixSocket.Credentials peer = channel.socket().peer();
        String user = Users.name(peer.uid());
        Set<String> allowed = server.settings.allowedUsers().isEmpty() ? Set.of(server.self) : server.settings.allowedUsers();
        if (!Users.contains(allowed, peer.uid())) {
            reply(new Frame.Error(0, Frame.ErrorCode.FORBIDDEN, "User '" + user + "' may not use worker '"
                    + server.settings.name() + "'; allowed users: " + new TreeSet<>(allowed)));
            return false;
        }
        Frame hello = channel.read(server.settings.limits().helloTimeout());
        if (!(hello instanceof Frame.Hello h) || h.version() != FrameCodec.VERSION) {
            FrameChannel.discard(hello);
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
            case Frame.SharePool share -> {
                try {
                    clientPools.accept(share.poolId(), share.descriptor(), share.bytes());
                } catch (SharedMemoryException e) {
                    // the client's memory could hurt the worker (or it is misbehaving): say why and hang up
                    reply(new Frame.Error(0, Frame.ErrorCode.PROTOCOL, e.getMessage()));
                    close();
                }
            }
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
        values.put("oldest-run-ms", Long.toString(server.oldestRunMillis()));
        long[] batches = server.batchCounts();
        values.put("runs", Long.toString(batches[0]));
        values.put("requests", Long.toString(batches[1]));
        values.put("runs-in-reading-thread", Long.toString(server.runsInReadingThreads()));
        values.put("reading-hand-offs", Long.toString(server.readingHandOffs.sum()));
        values.put("status-requests", Long.toString(server.statusRequests.sum()));
        values.put("leases", Integer.toString(leases.size()));
        server.registry.stats().forEach((model, stats) -> values.put("loads:" + model, Long.toString(stats.loads())));
        server.paddingWaste().forEach((model, waste) -> values.put("padding-waste:" + model, waste));
        return values;
    }

    private void load(Frame.Load load) {
        String model = load.model();
        Padding padding;
        try {
            padding = load.padding().isEmpty() ? null : Padding.parse(load.padding());
        } catch (IllegalArgumentException e) {
            reply(new Frame.Error(load.requestId(), Frame.ErrorCode.PROTOCOL, e.getMessage()));
            return;
        }
        int equals = model.indexOf('=');
        if (equals > 0) {
            if (!server.dynamicModels) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.UNKNOWN_MODEL, "Worker '" + server.settings.name()
                        + "' serves only the models it was started with; it cannot register " + model));
                return;
            }
            String location = model.substring(equals + 1);
            model = model.substring(0, equals);
            ModelSource source;
            try {
                source = ModelSource.parse(location, WorkerServer.class.getClassLoader());
            } catch (IllegalArgumentException e) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.LOAD_FAILED, e.getMessage()));
                return;
            }
            String refused = server.registerWithPadding(model, source, padding);
            if (refused != null) {
                reply(new Frame.Error(load.requestId(), Frame.ErrorCode.LOAD_FAILED, refused));
                return;
            }
        } else if (padding != null && !padding.equals(server.padding(model))) {
            reply(new Frame.Error(load.requestId(), Frame.ErrorCode.LOAD_FAILED, "Model '" + model + "' was started with "
                    + (server.padding(model) == null ? "no padding" : "padding " + server.padding(model))
                    + "; a load cannot give it padding " + padding + ": start the worker with --padding " + model + "="
                    + padding));
            return;
        }
        try (ModelHandle<InferenceModel> handle = server.registry.acquire(model, InferenceModel.class)) {
            Padding known = server.padding(model);
            if (known != null) {
                // a padding that names what the model lacks, or values its inputs cannot hold: the batcher pads exactly
                // nothing for it (see Batcher), and the load says why
                known.checkAgainst(model, handle.get().inputs(), handle.get().outputs());
            }
            reply(new Frame.Loaded(load.requestId(), handle.name(), handle.get().inputs(), handle.get().outputs(),
                    handle.get().batchDependent()));
        } catch (ModelNotFoundException e) {
            reply(new Frame.Error(load.requestId(), Frame.ErrorCode.UNKNOWN_MODEL, e.getMessage()));
        } catch (RuntimeException e) {
            // a load that failed, or a location that fails as nobody expected: answered, and the reading goes on
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
        if (inFlight.contains(id) || leases.containsKey(id)) {
            server.waiting.decrementAndGet();
            reply(new Frame.Error(id, Frame.ErrorCode.PROTOCOL, "Request id " + id + " is already in use on this"
                    + " connection (in flight, or its result is not released); use a new id per request"));
            return false;
        }
        if (!beginRequest()) {
            server.waiting.decrementAndGet();
            return false;
        }
        Map<String, Tensor> inputs;
        try {
            inputs = WireTensors.fromWire(infer.inputs(), this::openInput);
        } catch (RuntimeException e) {
            server.waiting.decrementAndGet();
            endRequest();
            reply(new Frame.Error(id, Frame.ErrorCode.INVALID_INPUT, e.getMessage()));
            return false;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
                infer.timeoutMillis() > 0 ? infer.timeoutMillis() : server.settings.defaultTimeout().toMillis());
        inFlight.add(id);
        Batcher batcher = server.batcher(infer.model());
        TensorAllocator outputMemory = clientShares ? outputPool() : TensorAllocator.offHeap();
        Batcher.Pending request = new Batcher.Pending(id, inputs, outputMemory, deadline, outcome -> {
            pending.remove(id);
            server.waiting.decrementAndGet();
            try {
                inputs.values().forEach(Tensor::close);
                answer(id, infer.model(), outcome);
            } finally {
                endRequest();
            }
        });
        pending.put(id, request);
        Runnable here;
        try {
            here = batcher.take(request);
        } catch (RuntimeException e) {
            // not taken (the worker is closing): the request ends here, and nothing of it stays counted
            pending.remove(id);
            server.waiting.decrementAndGet();
            inFlight.remove(id);
            inputs.values().forEach(Tensor::close);
            endRequest();
            reply(new Frame.Error(id, Frame.ErrorCode.WORKER_UNAVAILABLE, "Worker '" + server.settings.name()
                    + "' could not take the request: " + e.getMessage()));
            return false;
        }
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

    /**
     * An input named by a descriptor: in a pool the client sent, or an output of this connection that the client sends
     * back (model chaining: no copy). Any other pool, the worker's own or another client's, is refused.
     */
    private Tensor openInput(TensorDescriptor descriptor) {
        if (clientPools.has(descriptor.poolId())) {
            Tensor view = clientPools.open(descriptor, null);
            if (descriptor.dtype().isFloatingPoint()) {
                return view; // read in place: a client changing it under the run only changes its own answer
            }
            // Integers may be indices that an operator checks and then reads again: a client must not be able to
            // change them between the two, so they are copied (they are small: token ids, masks, shapes).
            try (view) {
                Tensor copy = TensorAllocator.offHeap().allocateUninitialized(view.dtype(), view.shape());
                copy.copyFrom(view);
                return copy;
            }
        }
        SharedMemoryPool own = outputs;
        if (own != null && own.hasPool(descriptor.poolId())) {
            // the block is leased to this client, which holds it for the request; nothing is counted in its header,
            // which the client could reach and change
            return own.openUncounted(descriptor);
        }
        throw new SharedMemoryException(descriptor + " names pool " + descriptor.poolId() + ", which this connection"
                + " has not been sent: send the pool first (a client does that for the pools it allocates in)");
    }

    /** This connection's output pool, opened at its first output: memfds that only this client is sent. */
    private synchronized SharedMemoryPool outputPool() {
        if (outputs == null) {
            SharedMemoryPool template = (SharedMemoryPool) server.allocator;
            outputs = SharedMemoryPool.open(template.settings().withNamedFiles(false)
                    .withPoolFileBytes(Math.min(template.settings().poolFileBytes(), OUTPUT_POOL_FILE_BYTES)));
        }
        return outputs;
    }

    long outputBytes() {
        SharedMemoryPool pool = outputs;
        return pool == null ? 0 : pool.usedBytes();
    }

    private synchronized boolean beginRequest() {
        if (!open) {
            return false;
        }
        active++;
        return true;
    }

    private void endRequest() {
        boolean last;
        synchronized (this) {
            last = --active == 0 && !open;
        }
        if (last) {
            closeMemory();
        }
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
            SharedMemoryPool pool = clientShares ? outputPool() : null;
            List<WireTensor> wire = WireTensors.toWire(outcome.outputs(), pool, null, copies);
            outputs.addAll(copies);
            if (leases.putIfAbsent(id, outputs) != null) {
                outputs.forEach(Tensor::close);
                reply(new Frame.Error(id, Frame.ErrorCode.PROTOCOL, "Request id " + id + " is already in use by an"
                        + " unreleased result on this connection"));
                return;
            }
            replyWithPools(new Frame.Result(id, wire), pool);
            if (!open) {
                release(id);
            }
        } catch (RuntimeException e) {
            outputs.forEach(Tensor::close);
            reply(new Frame.Error(id, Frame.ErrorCode.INTERNAL, "Model '" + model + "' failed: " + e.getMessage()));
        }
    }

    private void cancel(long id) {
        Batcher.Pending request = pending.get(id);
        // dropped if it has not started: it never runs, and its answer (to no one) still releases what it holds
        boolean dropped = request != null && request.cancel();
        if (inFlight.remove(id)) {
            reply(new Frame.Error(id, Frame.ErrorCode.CANCELLED, "Request " + id + (dropped ? " was cancelled before it ran"
                    : " was cancelled while it ran; its outputs are dropped")));
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

    /** Sends the client the output pool files a result names that it has not had yet, then the result. */
    private void replyWithPools(Frame.Result result, SharedMemoryPool pool) {
        WireTensors.sendWithPools(result, result.outputs(), pool, sentPools, this::reply);
    }

    /** Sends a frame; a frame that cannot be encoded is answered with why, so the client never waits it out. */
    private void reply(Frame frame) {
        try {
            channel.write(frame);
        } catch (IOException e) {
            close();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "Worker '" + server.settings.name() + "' could not send " + frame.getClass()
                    .getSimpleName() + " for request " + frame.requestId() + ": " + e.getMessage());
            if (!(frame instanceof Frame.Error)) {
                reply(new Frame.Error(frame.requestId(), Frame.ErrorCode.INTERNAL, "The worker could not send its answer: "
                        + e.getMessage()));
            }
        }
    }

    /** Ends the connection: every lease it held is released at once, whatever state it was in. */
    void close() {
        boolean idle;
        synchronized (this) {
            if (!open) {
                return;
            }
            open = false;
            idle = active == 0;
        }
        server.connectionClosed(this, pid);
        inFlight.clear();
        List<Long> leased = new ArrayList<>(leases.keySet());
        leased.forEach(this::release);
        channel.close();
        if (idle) {
            closeMemory();
        }
    }

    /** The client's pools are unmapped and the output pool closed; runs that used them are all done. */
    private void closeMemory() {
        clientPools.close();
        SharedMemoryPool pool = outputs;
        if (pool != null) {
            pool.close();
        }
    }
}
