package io.quarkiverse.modelsharing.runtime.worker;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.worker.WorkerConnection;
import io.quarkiverse.modelsharing.worker.WorkerException;

/**
 * Asks each worker for its status every interval, on a connection of the heartbeat's own, and judges from the answer, or its
 * absence, whether the worker serves. A worker is hung when it does not answer within the heartbeat timeout (a frozen
 * JVM: stopped, swapping, deadlocked) or reports a run in progress older than the request timeout plus the heartbeat
 * timeout (a model stuck in a run, which no deadline can interrupt). Readiness shows the verdict; a managed worker that
 * is hung is handed to {@link Watched#hung}, which kills it for its supervisor to restart.
 * <p>
 * The heartbeat has a connection of its own to each worker because a worker reads a connection's frames in one thread,
 * which also loads the models that connection asks for: on the requests' connection a status request would wait for a
 * load of a large model, and a worker that is loading is not hung.
 */
final class WorkerHeartbeat implements AutoCloseable {

    /** The status value a worker reports for its oldest run in progress. */
    static final String OLDEST_RUN = "oldest-run-ms";

    private final Duration timeout;
    private final long stuckRunMillis;
    private final String stuckRunLimit;
    private final List<Watched> watched;
    private final ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("model-worker-heartbeat").factory());

    /**
     * @param requestTimeout the deadline of a request: a run that outlives it by the heartbeat timeout is stuck
     */
    WorkerHeartbeat(List<Watched> watched, Duration interval, Duration timeout, Duration requestTimeout) {
        this.watched = List.copyOf(watched);
        this.timeout = timeout;
        this.stuckRunMillis = requestTimeout.plus(timeout).toMillis();
        this.stuckRunLimit = "past the request timeout (" + text(requestTimeout) + ") plus the heartbeat timeout ("
                + text(timeout) + ")";
        ticks.scheduleWithFixedDelay(this::tick, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * One worker under watch.
     *
     * @param name what readiness calls it
     * @param connection where its status is asked for: the heartbeat's own, which it closes
     * @param pid the process now serving, or -1 while there is none (its supervisor says why); 0 for a worker this
     *        application does not run
     * @param hung told the pid and the verdict when the worker is hung
     */
    record Watched(String name, WorkerConnection connection, LongSupplier pid, Hung hung, Probe probe) {

        Watched(String name, WorkerConnection connection, LongSupplier pid, Hung hung) {
            this(name, connection, pid, hung, new Probe());
        }
    }

    interface Hung {
        void kill(long pid, String reason);
    }

    /** The state of one worker's heartbeat. */
    static final class Probe {
        private volatile CompletableFuture<Void> pending;
        private volatile long sentNanos;
        private volatile long sentPid;
        /** The pid the verdict is about, and the verdict: null while that process answers as it should. */
        private volatile long verdictPid = -1;
        private volatile String verdict = "no heartbeat answered yet";
        /** The last status the worker answered, for metrics. */
        private volatile Map<String, String> status;
    }

    /** The status that the worker now serving last answered a heartbeat with, or null if it does not answer them. */
    Map<String, String> lastStatus(Watched worker) {
        Probe probe = worker.probe();
        return verdict(worker) == null ? probe.status : null;
    }

    /**
     * Why the worker now serving does not, or null if it answers its heartbeats. Until it has answered once, it is
     * "no heartbeat answered yet".
     */
    String verdict(Watched worker) {
        long pid = worker.pid().getAsLong();
        Probe probe = worker.probe();
        synchronized (probe) {
            return probe.verdictPid == pid ? probe.verdict : "no heartbeat answered yet";
        }
    }

    private void tick() {
        for (Watched worker : watched) {
            long pid = worker.pid().getAsLong();
            if (pid < 0) {
                continue; // restarting: its supervisor says why it is down
            }
            Probe probe = worker.probe();
            CompletableFuture<Void> pending = probe.pending;
            if (pending != null && !pending.isDone()) {
                if (probe.sentPid == pid && System.nanoTime() - probe.sentNanos > timeout.toNanos()) {
                    hung(worker, pid, of(pid) + "did not answer its heartbeat within " + text(timeout));
                }
                continue;
            }
            probe.sentNanos = System.nanoTime();
            probe.sentPid = pid;
            CompletableFuture<Void> asked = new CompletableFuture<>();
            probe.pending = asked;
            // a probe blocks for as long as the worker takes: never in the thread that watches every worker
            Thread.ofVirtual().name("model-worker-heartbeat-" + worker.name()).start(() -> {
                try {
                    ask(worker, pid);
                } finally {
                    asked.complete(null);
                }
            });
        }
    }

    private void ask(Watched worker, long pid) {
        Probe probe = worker.probe();
        Map<String, String> status;
        try {
            status = worker.connection().client().status(timeout);
        } catch (WorkerException e) {
            if (e.code() == Frame.ErrorCode.TIMEOUT) {
                hung(worker, pid, of(pid) + "did not answer its heartbeat within " + text(timeout));
            } else {
                judged(probe, pid, e.getMessage());
            }
            return;
        } catch (RuntimeException e) {
            judged(probe, pid, e.getMessage());
            return;
        }
        probe.status = status;
        long oldestRun = Long.parseLong(status.getOrDefault(OLDEST_RUN, "0"));
        if (oldestRun > stuckRunMillis) {
            hung(worker, pid, of(pid) + "has been in one run for " + oldestRun + " ms, " + stuckRunLimit);
        } else {
            judged(probe, pid, null);
        }
    }

    private void hung(Watched worker, long pid, String reason) {
        judged(worker.probe(), pid, reason);
        worker.hung().kill(pid, reason);
    }

    private static void judged(Probe probe, long pid, String verdict) {
        synchronized (probe) {
            probe.verdict = verdict;
            probe.verdictPid = pid;
        }
    }

    private static String of(long pid) {
        return pid > 0 ? "pid " + pid + " " : "";
    }

    /** "10 s", or "1500 ms" for a duration that is not whole seconds. */
    static String text(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() + " ms";
    }

    @Override
    public void close() {
        ticks.shutdownNow();
        watched.forEach(worker -> worker.connection().close());
    }
}
