package io.quarkiverse.modelsharing.worker;

import java.time.Duration;

import io.quarkiverse.modelsharing.protocol.ByteBudget;
import io.quarkiverse.modelsharing.protocol.FrameChannel;

/**
 * What one client may cost a worker that every application of the host shares: how long it may take to say hello,
 * to finish a frame or to read its answers, how long it may stay silent, how many connections it and everyone may
 * have, and how many bytes of large inline frames all connections may hold at once.
 *
 * @param helloTimeout longest wait for a new connection's hello
 * @param idleTimeout longest a connection may send nothing (zero, the default: no limit; clients reconnect on their
 *        next call). Off by default because waiting with a limit costs each request a {@code poll} before its read:
 *        +15 to 25 µs p50 on the tiny model's round trip, measured
 * @param frameTimeout longest wait for the next bytes of a frame that has begun (slow senders are cut off)
 * @param writeDeadline longest a client may leave its answers unread before it is disconnected and its leases end
 * @param maxQueuedBytes most bytes of answers that may wait for a client that reads slowly
 * @param maxConnections connections open at once, from everyone
 * @param maxConnectionsPerProcess connections open at once from one process
 * @param inlineBudgetBytes bytes that frames over 8 KiB (inline tensors) of all connections may hold at once
 * @param maxPoolBytesPerConnection bytes of pools one connection may have the worker map: a sealed memfd can be made
 *        large without using memory, and each mapping takes address space (with {@code maxConnections}, this bounds
 *        what all clients together can map)
 */
public record WorkerLimits(Duration helloTimeout, Duration idleTimeout, Duration frameTimeout, Duration writeDeadline,
        long maxQueuedBytes, int maxConnections, int maxConnectionsPerProcess, long inlineBudgetBytes,
        long maxPoolBytesPerConnection) {

    public static WorkerLimits defaults() {
        return new WorkerLimits(Duration.ofSeconds(5), Duration.ZERO, Duration.ofSeconds(10),
                Duration.ofSeconds(10), 64L << 20, 512, 64, 256L << 20, 16L << 30);
    }

    public WorkerLimits {
        if (maxConnections < 1 || maxConnectionsPerProcess < 1 || maxQueuedBytes < 1 || inlineBudgetBytes < 1
                || maxPoolBytesPerConnection < 1) {
            throw new IllegalArgumentException("worker limits must be positive: " + maxConnections + " connections, "
                    + maxConnectionsPerProcess + " per process, " + maxQueuedBytes + " queued bytes, "
                    + inlineBudgetBytes + " inline bytes");
        }
    }

    /** The limits each connection's channel enforces, drawing large frames from {@code budget}. */
    FrameChannel.Limits channel(ByteBudget budget) {
        return new FrameChannel.Limits(idleTimeout, frameTimeout, writeDeadline, maxQueuedBytes, budget);
    }
}
