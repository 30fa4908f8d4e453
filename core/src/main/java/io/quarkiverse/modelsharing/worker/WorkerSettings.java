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
 */
public record WorkerSettings(Path socket, Set<String> allowedUsers, int threads, int maxQueue, Duration defaultTimeout,
        String name) {

    public WorkerSettings {
        allowedUsers = Set.copyOf(allowedUsers);
        if (threads < 1 || maxQueue < 1) {
            throw new IllegalArgumentException("a worker needs at least one thread and one queue slot");
        }
    }

    public static WorkerSettings defaults(Path socket) {
        return new WorkerSettings(socket, Set.of(), 2, 1024, Duration.ofSeconds(30), "worker");
    }
}
