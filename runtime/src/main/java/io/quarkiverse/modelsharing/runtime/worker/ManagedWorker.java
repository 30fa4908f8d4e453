package io.quarkiverse.modelsharing.runtime.worker;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.worker.WorkerOutput;

/**
 * One managed worker process and its supervision: started and waited for until it listens, its output drained into
 * the log ({@link WorkerOutput}), started again after a {@link Backoff} delay when it dies, and stopped by
 * {@link #close()}, which no restart can outrun: a process is launched and recorded under one lock, which
 * {@code close()} takes to refuse any later launch, so the process it stops is the last one there will be.
 */
final class ManagedWorker implements AutoCloseable {

    /** Starts a worker's process: {@link ProcessBuilder#start()} in the pool; a test may stand in for it. */
    interface Launcher {
        Process start(ProcessBuilder command) throws IOException;
    }

    private static final Logger LOG = Logger.getLogger(ManagedWorker.class);

    final String device;
    final int index;
    private final String name;
    private final Path socket;
    private final ProcessBuilder command;
    private final Duration startTimeout;
    private final Backoff backoff;
    private final Launcher launcher;
    private final LongConsumer restarting;
    private final AtomicLong restarts = new AtomicLong();
    private final Object lock = new Object();
    private boolean closed; // guarded by lock
    private Process launched; // guarded by lock: the last process started, listening or not yet
    private Thread pendingRestart; // guarded by lock
    private volatile Process serving;
    private volatile long servingSinceNanos;
    /** Why the worker is down, for readiness: why its last process ended, or the heartbeat's verdict that ended it. */
    private volatile String downReason = "not started";
    /** The process {@link #kill} ended, and why; its exit is then told with that reason. */
    private volatile Process killed;
    private volatile String killedFor;

    /**
     * @param restarting told the delay of each restart it schedules
     */
    ManagedWorker(String device, int index, Path socket, ProcessBuilder command, Duration startTimeout, Backoff backoff,
            Launcher launcher, LongConsumer restarting) {
        this.device = device;
        this.index = index;
        this.name = device + "#" + index;
        this.socket = socket;
        this.command = command;
        this.startTimeout = startTimeout;
        this.backoff = backoff;
        this.launcher = launcher;
        this.restarting = restarting;
    }

    /** The worker's name in the log and in readiness, {@code cpu#0}. */
    String name() {
        return name;
    }

    /**
     * Starts the worker and waits until it says it listens.
     *
     * @throws ModelSharingException if it does not within the start timeout, with what it wrote to stderr, or if the
     *         worker is closed
     */
    void start() throws IOException {
        Process process;
        synchronized (lock) {
            if (closed) {
                throw new ModelSharingException("The model worker " + name + " is not started again: it was closed");
            }
            process = launcher.start(command);
            launched = process;
        }
        WorkerOutput output = WorkerOutput.drain(name, process);
        if (!listens(output)) {
            boolean exited = false;
            String said = "";
            try {
                // its stdout ended: it is exiting, with its reason on stderr; otherwise it took too long
                exited = output.listening().isDone() && process.waitFor(2, TimeUnit.SECONDS);
                if (exited) {
                    // read all it wrote first: destroying a process closes our ends of its pipes, unread lines too
                    said = output.errors(Duration.ofSeconds(2));
                }
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
            if (!exited) {
                said = output.errors(Duration.ofMillis(200)); // what it wrote while it was supposed to start
            }
            throw new ModelSharingException("The model worker for " + device + " did not start: " + (!said.isEmpty() ? said
                    : exited ? "it exited with " + process.exitValue() + " and said nothing"
                            : "it said nothing within " + startTimeout.toSeconds() + " s"));
        }
        servingSinceNanos = System.nanoTime();
        serving = process;
        LOG.infof("Model worker %s (pid %d) serves on %s", name, process.pid(), socket);
        process.onExit().thenRun(() -> exited(process));
    }

    private boolean listens(WorkerOutput output) {
        try {
            return output.listening().get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException("the output pump never fails its future", e);
        }
    }

    private void exited(Process process) {
        if (process == serving) {
            scheduleRestart(System.nanoTime() - servingSinceNanos, process == killed ? killedFor
                    : "pid " + process.pid() + " exited with " + process.exitValue());
        }
    }

    /**
     * Kills the worker's process {@code pid} (SIGKILL, which a stopped or frozen JVM cannot ignore) because its
     * heartbeat says it is hung, e.g. "pid 123 did not answer its heartbeat within 10000 ms"; it is then restarted like
     * a worker that died. Nothing happens if that process is no longer the one serving.
     */
    void kill(long pid, String reason) {
        Process process = serving;
        synchronized (lock) { // the watcher and a probe may both find it hung: one kill, one message
            if (process == null || process.pid() != pid || process == killed || !process.isAlive()) {
                return;
            }
            killedFor = reason;
            killed = process;
            downReason = reason;
        }
        LOG.warnf("Model worker %s %s; killing it", name, reason);
        process.destroyForcibly();
    }

    private void scheduleRestart(long upNanos, String what) {
        synchronized (lock) {
            if (closed) {
                return;
            }
            downReason = what;
            long delay = backoff.delayMillis(upNanos);
            LOG.warnf("Model worker %s %s; restarting in %d ms", name, what, delay);
            restarting.accept(delay);
            pendingRestart = Thread.ofVirtual().name("model-worker-restart-" + name).start(() -> restartAfter(delay));
        }
    }

    private void restartAfter(long delayMillis) {
        try {
            Thread.sleep(delayMillis);
            start();
            restarts.incrementAndGet();
        } catch (InterruptedException e) {
            // closed while waiting: nothing to start
        } catch (IOException | RuntimeException e) {
            if (!isClosed()) {
                LOG.errorf("Restarting model worker %s failed: %s", name, e.getMessage());
                scheduleRestart(0, "did not start");
            }
        }
    }

    private boolean isClosed() {
        synchronized (lock) {
            return closed;
        }
    }

    /** Whether the worker's process is up (it said it listens and has not exited, nor been killed). */
    boolean isUp() {
        return isUp(serving);
    }

    private boolean isUp(Process process) {
        return process != null && process != killed && process.isAlive();
    }

    /** Why the worker is not up: "pid 123 exited with 137", or the heartbeat's verdict that had it killed. */
    String downReason() {
        return downReason;
    }

    /** The pid of the worker's process if it is up, or -1. */
    long pid() {
        Process process = serving;
        return isUp(process) ? process.pid() : -1;
    }

    /** Restarts that brought the worker up again. */
    long restarts() {
        return restarts.get();
    }

    /** Stops the worker (SIGTERM, then SIGKILL after 5 s) and any restart pending; none starts after this. */
    @Override
    public void close() {
        Process running;
        Thread restart;
        synchronized (lock) {
            closed = true;
            running = launched;
            restart = pendingRestart;
        }
        if (restart != null) {
            restart.interrupt();
        }
        if (running != null && running.isAlive()) {
            running.destroy(); // SIGTERM: the worker closes its socket and its shared memory
            try {
                if (!running.waitFor(5, TimeUnit.SECONDS)) {
                    running.destroyForcibly();
                    running.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                running.destroyForcibly();
            }
        }
    }
}
