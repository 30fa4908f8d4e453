package io.quarkiverse.modelsharing.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.worker.WorkerOutput;

/**
 * The supervision of one managed worker, with shell processes standing in for the worker, started as the pool starts
 * its workers: their output drained into the log, restarts spaced by a growing delay, and no process left by close().
 */
class ManagedWorkerTest {

    private static final String LISTENING = "echo 'worker cpu#0 listening on /nowhere.sock'";
    private static final Duration FIRST = Duration.ofMillis(10);
    private static final Duration MAX = Duration.ofMillis(80);

    /** Every process the tests started, to end them by pid whatever happens. */
    private final List<Process> started = new CopyOnWriteArrayList<>();

    @AfterEach
    void endWhatWasStarted() throws InterruptedException {
        for (Process process : started) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aWorkerThatWritesFarMoreThanAPipeHoldsKeepsRunningAndItsLinesReachTheLog() throws Exception {
        // 2000 lines of about 100 bytes on each of stdout and stderr: 200 KiB each, three times a pipe's 64 KiB
        String padding = "x".repeat(90);
        String script = LISTENING + "; i=0; while [ $i -lt 2000 ]; do echo \"out $i " + padding + "\"; echo \"err $i "
                + padding + "\" >&2; i=$((i+1)); done; echo 'all written'; echo 'all written' >&2; exec sleep 600";
        try (LogCapture log = new LogCapture(WorkerOutput.class);
                ManagedWorker worker = worker(script, Duration.ofSeconds(30), new Backoff(FIRST, MAX, Duration.ofSeconds(10)),
                        delay -> {
                        })) {
            worker.start();
            awaitTrue(() -> log.count("Model worker cpu#0: all written") == 2, "the worker wrote everything, on both");
            assertTrue(worker.isUp(), "and still runs");
            assertTrue(log.contains("Model worker cpu#0: out 1999 " + padding), "its stdout reaches the log");
            assertTrue(log.contains("Model worker cpu#0: err 1999 " + padding), "its stderr too");
            assertTrue(log.contains("Model worker cpu#0: worker cpu#0 listening on /nowhere.sock"));
        }
    }

    @Test
    void aWorkerThatCrashesRightAfterItListensIsRestartedAfterGrowingDelays() throws Exception {
        BlockingQueue<Long> delays = new LinkedBlockingQueue<>();
        try (ManagedWorker worker = worker(LISTENING + "; exit 3", Duration.ofSeconds(30),
                new Backoff(FIRST, MAX, Duration.ofSeconds(10)), delays::add)) {
            worker.start();
            List<Long> first = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Long delay = delays.poll(30, TimeUnit.SECONDS);
                assertTrue(delay != null, "restart " + i + " was scheduled");
                first.add(delay);
            }
            assertEquals(List.of(10L, 20L, 40L, 80L, 80L, 80L), first,
                    "listening is not staying up: the delay doubles, up to its maximum");
            // the sixth delay is scheduled when the fifth restart's worker exits, which may be before that restart is
            // counted as having brought it up
            awaitTrue(() -> worker.restarts() >= 5, "each restart brought it up again: " + worker.restarts());
        }
        assertTrue(started.stream().noneMatch(Process::isAlive), "close() left no process");
    }

    @Test
    void closeWaitsForARestartThatIsLaunchingAndStopsWhatItLaunched() throws Exception {
        CountDownLatch launching = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        ManagedWorker worker = new ManagedWorker("cpu", 0, Path.of("/nowhere.sock"), shell(LISTENING + "; exit 3"),
                Duration.ofSeconds(30), new Backoff(FIRST, MAX, Duration.ofSeconds(10)), command -> {
                    if (!started.isEmpty()) { // the restart: hold it inside the launch until close() waits for it
                        launching.countDown();
                        await(proceed);
                        command = shell(LISTENING + "; exec sleep 600");
                    }
                    Process process = command.start();
                    started.add(process);
                    return process;
                }, delay -> {
                });
        try {
            worker.start();
            assertTrue(launching.await(30, TimeUnit.SECONDS), "the crashed worker is being restarted");
            Thread closer = Thread.ofPlatform().start(worker::close);
            awaitTrue(() -> closer.getState() == Thread.State.BLOCKED, "close() waits for the launch in progress");
            proceed.countDown();
            closer.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(closer.isAlive(), "close() returned");
            assertEquals(2, started.size());
            assertFalse(started.get(1).isAlive(), "the process launched while close() waited did not survive it");
            assertFalse(worker.isUp());
        } finally {
            proceed.countDown();
            worker.close();
        }
    }

    @Test
    void closeDuringAStartStopsTheProcessAndTheStartSaysWhy() throws Exception {
        ManagedWorker worker = worker("exec sleep 600", Duration.ofSeconds(60), new Backoff(FIRST, MAX, Duration.ofSeconds(10)),
                delay -> {
                });
        CompletableFuture<Void> start = CompletableFuture.runAsync(() -> {
            try {
                worker.start();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        awaitTrue(() -> !started.isEmpty(), "the worker was launched");
        worker.close();
        assertFalse(started.get(0).isAlive(), "close() stopped the worker that had not said it listens yet");
        ExecutionException failed = assertThrows(ExecutionException.class, () -> start.get(30, TimeUnit.SECONDS));
        assertEquals("The model worker for cpu did not start: it exited with 143 and said nothing",
                failed.getCause().getMessage());
        ModelSharingException again = assertThrows(ModelSharingException.class, worker::start);
        assertEquals("The model worker cpu#0 is not started again: it was closed", again.getMessage());
    }

    @Test
    void aWorkerThatFailsToStartSaysWhatItWroteToStderr() throws Exception {
        try (ManagedWorker worker = worker("echo 'loading embedder' >&2; echo 'No such file: /models/e.onnx' >&2; exit 2",
                Duration.ofSeconds(30), new Backoff(FIRST, MAX, Duration.ofSeconds(10)), delay -> {
                })) {
            ModelSharingException e = assertThrows(ModelSharingException.class, worker::start);
            assertEquals("The model worker for cpu did not start: loading embedder\nNo such file: /models/e.onnx",
                    e.getMessage());
        }
    }

    @Test
    void aWorkerThatNeverSaysItListensFailsAtTheStartTimeout() throws Exception {
        try (ManagedWorker worker = worker("exec sleep 600", Duration.ofSeconds(1),
                new Backoff(FIRST, MAX, Duration.ofSeconds(10)), delay -> {
                })) {
            ModelSharingException e = assertThrows(ModelSharingException.class, worker::start);
            assertEquals("The model worker for cpu did not start: it said nothing within 1 s", e.getMessage());
            assertFalse(started.get(0).isAlive(), "and was stopped");
        }
    }

    private ManagedWorker worker(String script, Duration startTimeout, Backoff backoff,
            java.util.function.LongConsumer restarting) {
        return new ManagedWorker("cpu", 0, Path.of("/nowhere.sock"), shell(script), startTimeout, backoff, command -> {
            Process process = command.start();
            started.add(process);
            return process;
        }, restarting);
    }

    private static ProcessBuilder shell(String script) {
        return new ProcessBuilder("sh", "-c", script);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within 30 s: " + what);
            Thread.sleep(10);
        }
    }

    /** The formatted messages logged under one category while it is open. */
    private static final class LogCapture extends Handler implements AutoCloseable {
        private final java.util.logging.Logger logger;
        private final List<String> messages = new CopyOnWriteArrayList<>();

        LogCapture(Class<?> category) {
            logger = java.util.logging.Logger.getLogger(category.getName());
            logger.addHandler(this);
        }

        boolean contains(String message) {
            return messages.contains(message);
        }

        long count(String message) {
            return messages.stream().filter(message::equals).count();
        }

        @Override
        public void publish(LogRecord record) {
            messages.add(record instanceof ExtLogRecord ext ? ext.getFormattedMessage()
                    : new SimpleFormatter().formatMessage(record));
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }
}
