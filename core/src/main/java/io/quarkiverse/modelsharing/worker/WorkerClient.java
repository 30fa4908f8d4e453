package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.shm.PeerPools;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * A connection to a worker daemon, shared by any number of threads: requests are multiplexed by id. If the worker
 * goes away, every request in flight fails at once with {@link WorkerUnavailableException}.
 *
 * <pre>{@code
 * try (WorkerClient worker = WorkerClient.connect(socket, pool, "my-app");
 *         InferenceResult result = worker.infer("embedder", Map.of("input_ids", ids), Duration.ofSeconds(5))) {
 *     ...
 * }
 * }</pre>
 *
 * With shared memory on both sides, the client sends each of its pools to the worker once (a sealed memfd over the
 * socket) and inputs travel as descriptors; it keeps a reference to every input until the worker has answered (or
 * is gone), so that the worker never reads a block the client reused. Outputs are read-only views of the worker's
 * memory for this connection; the worker keeps them until the last reference to each closes, {@link Tensor#retain()}
 * included, and never hands that memory to another client.
 */
public final class WorkerClient implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(WorkerClient.class.getName());
    private static final AtomicBoolean INLINE_LOGGED = new AtomicBoolean();
    /** How long a worker may take to answer hello. */
    static final Duration HELLO_TIMEOUT = Duration.ofSeconds(30);

    private final Path socket;
    private final FrameChannel channel;
    /** Where inputs are sent from (the caller's memfd pool, or one of this client's own), null to send inline. */
    private final SharedMemoryPool sending;
    private final boolean ownSendingPool;
    private final PeerPools workerPools;
    private final Map<Long, CompletableFuture<Frame>> inFlight = new ConcurrentHashMap<>();
    /** The inputs of each request not answered yet, held so that the worker never reads a reused block. */
    private final Map<Long, List<Tensor>> sentInputs = new ConcurrentHashMap<>();
    /** This client's pools the worker has been sent; guarded by itself, together with the writes that need them. */
    private final Set<String> sentPools = new HashSet<>();
    private final AtomicLong ids = new AtomicLong();
    private final String worker;
    private volatile Throwable lost;

    private WorkerClient(Path socket, FrameChannel channel, SharedMemoryPool sending, boolean ownSendingPool,
            String worker) {
        this.socket = socket;
        this.channel = channel;
        this.sending = sending;
        this.ownSendingPool = ownSendingPool;
        this.worker = worker;
        this.workerPools = new PeerPools("worker '" + worker + "'", 4096, 64L << 30);
        Thread.ofPlatform().daemon().name("worker-client-reader").start(this::readResponses);
    }

    /**
     * Connects and says hello. Tensors go through shared memory when {@code allocator} is a shared-memory pool and the
     * worker has shared memory too, else inline (said once in the log).
     *
     * @throws WorkerException if the worker refuses this process (its user is not allowed) or speaks another version
     * @throws WorkerUnavailableException if no worker listens on {@code socket}
     */
    public static WorkerClient connect(Path socket, TensorAllocator allocator, String client) {
        UnixSocket connection;
        try {
            connection = UnixSocket.connect(socket);
        } catch (IOException e) {
            throw new WorkerUnavailableException("No worker listens on " + socket + ": " + e.getMessage(), e);
        }
        FrameChannel channel = new FrameChannel(connection, new FrameCodec());
        try {
            int capabilities = Frame.INLINE_TENSORS | (allocator instanceof SharedMemoryPool ? Frame.SHARED_MEMORY : 0);
            try {
                channel.write(new Frame.Hello(0, FrameCodec.VERSION, capabilities, client));
            } catch (IOException refusedEarly) {
                // a worker that refuses this peer says why and hangs up before reading the hello: read the reason
            }
            Frame answer = channel.read(HELLO_TIMEOUT);
            FrameChannel.discard(answer);
            if (answer instanceof Frame.Error error) {
                throw new WorkerException(error.code(), error.message());
            }
            if (!(answer instanceof Frame.Welcome welcome)) {
                throw new WorkerException(Frame.ErrorCode.PROTOCOL,
                        "The worker at " + socket + " answered hello with " + answer);
            }
            SharedMemoryPool sending = null;
            boolean own = false;
            if (allocator instanceof SharedMemoryPool pool) {
                if ((welcome.capabilities() & Frame.SHARED_MEMORY) == 0) {
                    if (INLINE_LOGGED.compareAndSet(false, true)) {
                        LOG.log(Level.WARNING, "Worker ''{0}'' at {1} has no shared memory: tensors travel to it inline,"
                                + " copied through the socket", welcome.worker(), socket);
                    }
                } else if (pool.settings().namedFiles()) {
                    // named pool files could be shrunk under the worker: send from sealed memfds of this client's own
                    sending = SharedMemoryPool.open(pool.settings().withNamedFiles(false));
                    own = true;
                } else {
                    sending = pool;
                }
            }
            return new WorkerClient(socket, channel, sending, own, welcome.worker());
        } catch (IOException e) {
            channel.close();
            throw new WorkerUnavailableException("The worker at " + socket + " closed the connection during hello: "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Whether the connection is still up. */
    public boolean isConnected() {
        return lost == null;
    }

    public String workerName() {
        return worker;
    }

    /** Loads a model in the worker (if no one has) and returns what it expects and produces. */
    public Frame.Loaded load(String model, Duration timeout) {
        return load(model, null, timeout);
    }

    /**
     * Loads a model, registering it with {@code padding} (or none, if null) where the load registers it: how the
     * worker pads requests of different lengths to batch them.
     */
    public Frame.Loaded load(String model, io.quarkiverse.modelsharing.inference.Padding padding, Duration timeout) {
        return (Frame.Loaded) call(new Frame.Load(ids.incrementAndGet(), model, padding == null ? "" : padding.toString()),
                timeout);
    }

    /** The worker's status. */
    public Map<String, String> status(Duration timeout) {
        return ((Frame.StatusReply) call(new Frame.Status(ids.incrementAndGet()), timeout)).values();
    }

    /**
     * Runs a model in the worker. Inputs in this process's shared-memory pool travel as descriptors, outputs of this
     * worker go back as theirs; others are copied into the pool first (or inline, without shared memory). The outputs
     * are read-only views of the worker's memory for this connection, kept until their last reference closes.
     */
    public InferenceResult infer(String model, Map<String, Tensor> inputs, Duration timeout) {
        long id = ids.incrementAndGet();
        List<Tensor> held = new ArrayList<>();
        Frame.Infer request;
        try {
            request = new Frame.Infer(id, model, (int) Math.min(timeout.toMillis(), Integer.MAX_VALUE),
                    WireTensors.toWire(inputs, sending, workerPools, held));
            if (sending != null) {
                inputs.values().forEach(input -> held.add(input.retain()));
            }
        } catch (RuntimeException e) {
            held.forEach(Tensor::close);
            throw e;
        }
        sentInputs.put(id, held);
        Frame.Result result = (Frame.Result) call(request, timeout, () -> sendWithPools(request));
        Lease lease = new Lease(id, (int) result.outputs().stream().filter(WireTensor.Shared.class::isInstance).count());
        Map<String, Tensor> outputs;
        try {
            outputs = WireTensors.fromWire(result.outputs(), descriptor -> workerPools.open(descriptor, lease::release));
        } catch (RuntimeException e) {
            send(new Frame.Release(id));
            throw e;
        }
        return new InferenceResult(model, outputs);
    }

    /** One result's outputs in the worker's memory: the worker gets the release when the last of them closes. */
    private final class Lease {
        private final long id;
        private final AtomicInteger open;

        Lease(long id, int outputs) {
            this.id = id;
            this.open = new AtomicInteger(outputs);
            if (outputs == 0) {
                send(new Frame.Release(id));
            }
        }

        void release() {
            if (open.decrementAndGet() == 0 && lost == null) {
                send(new Frame.Release(id));
            }
        }
    }

    /** Sends the worker the pools a request names that it has not had yet, then the request. */
    private void sendWithPools(Frame.Infer request) {
        WireTensors.sendWithPools(request, request.inputs(), sending, sentPools, this::send);
    }

    private Frame call(Frame request, Duration timeout) {
        return call(request, timeout, () -> send(request));
    }

    private Frame call(Frame request, Duration timeout, Runnable sender) {
        CompletableFuture<Frame> answer = new CompletableFuture<>();
        inFlight.put(request.requestId(), answer);
        Throwable alreadyLost = lost;
        if (alreadyLost != null) {
            inFlight.remove(request.requestId());
            releaseInputs(request.requestId());
            throw unavailable(alreadyLost, 1);
        }
        sender.run();
        Frame frame;
        try {
            frame = answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            inFlight.remove(request.requestId());
            send(new Frame.Cancel(request.requestId()));
            throw new WorkerException(Frame.ErrorCode.TIMEOUT, "Worker '" + worker + "' did not answer request "
                    + request.requestId() + " within " + timeout.toMillis() + " ms; it was cancelled");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new WorkerUnavailableException(e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            inFlight.remove(request.requestId());
            send(new Frame.Cancel(request.requestId()));
            throw new WorkerException(Frame.ErrorCode.CANCELLED, "Interrupted while waiting for worker '" + worker + "'");
        }
        if (frame instanceof Frame.Error error) {
            throw new WorkerException(error.code(), error.message());
        }
        return frame;
    }

    private void send(Frame frame) {
        try {
            channel.write(frame);
        } catch (IOException e) {
            connectionLost(e);
        }
    }

    private void readResponses() {
        try {
            for (;;) {
                Frame frame = channel.read();
                if (frame instanceof Frame.SharePool share) {
                    workerPools.accept(share.poolId(), share.descriptor(), share.bytes());
                    continue;
                }
                if (frame.requestId() == 0 && frame instanceof Frame.Error error) {
                    throw new WorkerException(error.code(), error.message()); // the worker is hanging up: why
                }
                releaseInputs(frame.requestId()); // answered: the worker no longer reads them
                CompletableFuture<Frame> waiting = inFlight.remove(frame.requestId());
                if (waiting != null) {
                    waiting.complete(frame);
                } else if (frame instanceof Frame.Result late) {
                    send(new Frame.Release(late.requestId())); // its caller gave up: give the outputs back
                }
            }
        } catch (IOException | RuntimeException e) {
            connectionLost(e);
        }
    }

    private void releaseInputs(long id) {
        List<Tensor> held = sentInputs.remove(id);
        if (held != null) {
            held.forEach(Tensor::close);
        }
    }

    /**
     * Fails every request in flight at once and gives back the inputs held for them: the worker is gone. Outputs still
     * open stay readable (no one reuses that memory now); the worker's pools are unmapped when the last closes.
     */
    private void connectionLost(Throwable cause) {
        synchronized (this) {
            if (lost == null) {
                lost = cause;
            }
        }
        channel.close();
        for (Long id : new ArrayList<>(sentInputs.keySet())) {
            releaseInputs(id);
        }
        workerPools.close();
        List<Long> pending = new ArrayList<>(inFlight.keySet());
        for (Long id : pending) {
            CompletableFuture<Frame> waiting = inFlight.remove(id);
            if (waiting != null) {
                waiting.completeExceptionally(unavailable(cause, pending.size()));
            }
        }
    }

    private WorkerUnavailableException unavailable(Throwable cause, int requests) {
        return new WorkerUnavailableException("Worker unavailable: '" + worker + "' at " + socket
                + " went away (" + cause.getMessage() + "); " + requests + " request(s) in flight failed", cause);
    }

    @Override
    public void close() {
        connectionLost(new IOException("the client closed the connection"));
        if (ownSendingPool) {
            sending.close();
        }
    }
}
