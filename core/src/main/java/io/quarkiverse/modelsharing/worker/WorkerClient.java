package io.quarkiverse.modelsharing.worker;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.tensor.StorageKind;
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
 */
public final class WorkerClient implements AutoCloseable {

    private final Path socket;
    private final FrameChannel channel;
    private final TensorAllocator allocator;
    private final Map<Long, CompletableFuture<Frame>> inFlight = new ConcurrentHashMap<>();
    private final Map<Long, Map<String, Tensor>> leased = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final String worker;
    private volatile Throwable lost;

    private WorkerClient(Path socket, FrameChannel channel, TensorAllocator allocator, String worker) {
        this.socket = socket;
        this.channel = channel;
        this.allocator = allocator;
        this.worker = worker;
        Thread.ofPlatform().daemon().name("worker-client-reader").start(this::readResponses);
    }

    /**
     * Connects and says hello.
     *
     * @throws WorkerException if the worker refuses this process (its user is not allowed) or speaks another version
     * @throws WorkerUnavailableException if no worker listens on {@code socket}
     */
    public static WorkerClient connect(Path socket, TensorAllocator allocator, String client) {
        SocketChannel connection;
        try {
            connection = SocketChannel.open(StandardProtocolFamily.UNIX);
            connection.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new WorkerUnavailableException("No worker listens on " + socket + ": " + e.getMessage(), e);
        }
        FrameChannel channel = new FrameChannel(connection, new FrameCodec());
        try {
            int capabilities = Frame.INLINE_TENSORS | (allocator.kind() == StorageKind.SHARED ? Frame.SHARED_MEMORY : 0);
            try {
                channel.write(new Frame.Hello(0, FrameCodec.VERSION, capabilities, client));
            } catch (IOException refusedEarly) {
                // a worker that refuses this peer says why and hangs up before reading the hello: read the reason
            }
            Frame answer = channel.read();
            if (answer instanceof Frame.Error error) {
                throw new WorkerException(error.code(), error.message());
            }
            if (!(answer instanceof Frame.Welcome welcome)) {
                throw new WorkerException(Frame.ErrorCode.PROTOCOL,
                        "The worker at " + socket + " answered hello with " + answer);
            }
            return new WorkerClient(socket, channel, allocator, welcome.worker());
        } catch (IOException e) {
            closeQuietly(channel);
            throw new WorkerUnavailableException("The worker at " + socket + " closed the connection during hello: "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
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
        return (Frame.Loaded) call(new Frame.Load(ids.incrementAndGet(), model), timeout);
    }

    /** The worker's status. */
    public Map<String, String> status(Duration timeout) {
        return ((Frame.StatusReply) call(new Frame.Status(ids.incrementAndGet()), timeout)).values();
    }

    /**
     * Runs a model in the worker. Inputs in this process's shared-memory pool travel as descriptors; others are
     * copied into it first (or inline, without shared memory). The outputs are read-only views of the worker's
     * memory, leased until the result is closed.
     */
    public InferenceResult infer(String model, Map<String, Tensor> inputs, Duration timeout) {
        long id = ids.incrementAndGet();
        List<Tensor> copies = new ArrayList<>();
        try {
            Frame.Infer request = new Frame.Infer(id, model, (int) Math.min(timeout.toMillis(), Integer.MAX_VALUE),
                    WireTensors.toWire(inputs, allocator, copies));
            Frame.Result result = (Frame.Result) call(request, timeout);
            Map<String, Tensor> outputs;
            try {
                outputs = WireTensors.fromWire(result.outputs(), allocator, true);
            } catch (RuntimeException e) {
                send(new Frame.Release(id));
                throw e;
            }
            // The outputs live while the connection's lease does: if the connection ends first, close them, so that
            // reading them fails clearly instead of reading memory the worker has reused.
            leased.put(id, outputs);
            return new InferenceResult(model, outputs, () -> {
                if (leased.remove(id) != null) {
                    send(new Frame.Release(id));
                }
            });
        } finally {
            copies.forEach(Tensor::close);
        }
    }

    private Frame call(Frame request, Duration timeout) {
        CompletableFuture<Frame> answer = new CompletableFuture<>();
        inFlight.put(request.requestId(), answer);
        Throwable alreadyLost = lost;
        if (alreadyLost != null) {
            inFlight.remove(request.requestId());
            throw unavailable(alreadyLost, 1);
        }
        send(request);
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

    /** Fails every request in flight at once and ends every lease: the worker is gone. */
    private void connectionLost(Throwable cause) {
        if (lost == null) {
            lost = cause;
        }
        for (Long id : new ArrayList<>(leased.keySet())) {
            Map<String, Tensor> outputs = leased.remove(id);
            if (outputs != null) {
                outputs.values().forEach(Tensor::close);
            }
        }
        List<Long> pending = new ArrayList<>(inFlight.keySet());
        for (Long id : pending) {
            CompletableFuture<Frame> waiting = inFlight.remove(id);
            if (waiting != null) {
                waiting.completeExceptionally(unavailable(cause, pending.size()));
            }
        }
        closeQuietly(channel);
    }

    private WorkerUnavailableException unavailable(Throwable cause, int requests) {
        return new WorkerUnavailableException("Worker unavailable: '" + worker + "' at " + socket
                + " went away (" + cause.getMessage() + "); " + requests + " request(s) in flight failed", cause);
    }

    @Override
    public void close() {
        connectionLost(new IOException("the client closed the connection"));
    }

    private static void closeQuietly(FrameChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
