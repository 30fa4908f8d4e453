package io.quarkiverse.modelsharing.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * A connection to one worker that reconnects on the next call after the worker went away (and was restarted by its
 * supervisor, or by the node's service manager) or dropped the connection. Calls in flight when it went away fail at
 * once; they are not retried, since a request may not be safe to run twice. What a program without Quarkus uses
 * instead of a bare {@link WorkerClient}, which stays disconnected:
 *
 * <pre>{@code
 * try (WorkerConnection worker = new WorkerConnection(() -> socket, pool, "my-app", Duration.ofSeconds(10));
 *         InferenceResult result = worker.client().infer("embedder", inputs, Duration.ofSeconds(5))) {
 *     ...
 * }
 * }</pre>
 */
public final class WorkerConnection implements AutoCloseable {

    private final Supplier<Path> socket;
    private final TensorAllocator allocator;
    private final String client;
    private final Duration connectTimeout;
    private final Consumer<WorkerClient> onConnect;
    private WorkerClient current;
    private boolean closed;

    public WorkerConnection(Supplier<Path> socket, TensorAllocator allocator, String client, Duration connectTimeout) {
        this(socket, allocator, client, connectTimeout, connected -> {
        });
    }

    /** A connection that runs {@code onConnect} on every new client, e.g. to register models with a shared daemon. */
    public WorkerConnection(Supplier<Path> socket, TensorAllocator allocator, String client, Duration connectTimeout,
            Consumer<WorkerClient> onConnect) {
        this.socket = socket;
        this.allocator = allocator;
        this.client = client;
        this.connectTimeout = connectTimeout;
        this.onConnect = onConnect;
    }

    /** The connected client, connecting first if needed; waits for a restarting worker up to the connect timeout. */
    public synchronized WorkerClient client() {
        if (closed) {
            throw new WorkerUnavailableException("The application is shutting down: worker connections are closed", null);
        }
        if (current != null && current.isConnected()) {
            return current;
        }
        long deadline = System.nanoTime() + connectTimeout.toNanos();
        for (;;) {
            try {
                WorkerClient connected = WorkerClient.connect(socket.get(), allocator, client);
                try {
                    onConnect.accept(connected);
                } catch (RuntimeException e) {
                    connected.close();
                    throw e;
                }
                current = connected;
                return current;
            } catch (WorkerUnavailableException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (current != null) {
            current.close();
        }
    }
}
