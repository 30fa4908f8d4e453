package io.quarkiverse.modelsharing.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * How a worker daemon serves.
 *
 * @param socket the Unix domain socket to listen on
 * @param allowedUsers the users whose processes may connect, checked with SO_PEERCRED; empty: the daemon's own user
 * @param threads how many requests run at once
 * @param maxQueue how many requests may wait; past that, requests fail with OVERLOADED
 * @param defaultTimeout the deadline of a request that sets none
 * @param name how the worker introduces itself
 * @param maxBatch how many rows (first-dimension entries) one run may batch together; 1 turns batching off
 * @param maxDelay how long the first request of a batch waits for others
 * @param limits what one client may cost the worker
 */
public record WorkerSettings(Path socket, Set<String> allowedUsers, int threads, int maxQueue, Duration defaultTimeout,
        String name, int maxBatch, Duration maxDelay, WorkerLimits limits) {

    public static final int DEFAULT_MAX_BATCH = 8;
    public static final Duration DEFAULT_MAX_DELAY = Duration.ofMillis(10);

    public WorkerSettings {
        allowedUsers = Set.copyOf(allowedUsers);
        if (threads < 1 || maxQueue < 1 || maxBatch < 1) {
            throw new IllegalArgumentException("a worker needs at least one thread, one queue slot and a batch of one");
        }
    }

    /** Settings with the default limits. */
    public WorkerSettings(Path socket, Set<String> allowedUsers, int threads, int maxQueue, Duration defaultTimeout,
            String name, int maxBatch, Duration maxDelay) {
        this(socket, allowedUsers, threads, maxQueue, defaultTimeout, name, maxBatch, maxDelay, WorkerLimits.defaults());
    }

    public WorkerSettings withLimits(WorkerLimits newLimits) {
        return new WorkerSettings(socket, allowedUsers, threads, maxQueue, defaultTimeout, name, maxBatch, maxDelay,
                newLimits);
    }

    /** Settings without batching. */
    public WorkerSettings(Path socket, Set<String> allowedUsers, int threads, int maxQueue, Duration defaultTimeout,
            String name) {
        this(socket, allowedUsers, threads, maxQueue, defaultTimeout, name, 1, Duration.ZERO);
    }

    public static WorkerSettings defaults(Path socket) {
        return new WorkerSettings(socket, Set.of(), 2, 1024, Duration.ofSeconds(30), "worker", DEFAULT_MAX_BATCH,
                DEFAULT_MAX_DELAY);
    }
}
