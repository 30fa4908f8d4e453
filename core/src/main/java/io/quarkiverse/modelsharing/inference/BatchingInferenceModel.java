package io.quarkiverse.modelsharing.inference;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * Dynamic batching in process: concurrent {@link #run} calls of one model are stacked into one run, padded to the
 * longest sequence if a {@link Padding} is given, and each caller gets its own rows back.
 * <p>
 * It adds no wait to a caller that is alone: a call that finds a run slot free and no one queued runs at once, in
 * its own thread. Calls that come while every slot is busy queue, and when a slot frees the queue's first request
 * runs with every queued request that stacks with it (same layout and, with bucketing, the same length bucket), up
 * to {@code maxBatch} rows; {@code maxDelay}, if positive, then waits that long for more. A batch that fails, or
 * whose outputs cannot be split, runs again request by request, so a request that breaks a batch fails alone. A
 * model whose rows depend on each other ({@link InferenceModel#batchDependent()}, dynamic quantization) is never
 * batched: each call goes straight to the model, as if there were no batcher.
 */
public final class BatchingInferenceModel implements InferenceModel, AutoCloseable {

    /** The batching settings of one model. */
    public record Settings(int maxBatch, long maxDelayNanos, int concurrentRuns, Padding padding) {
        public Settings {
            if (maxBatch < 1 || concurrentRuns < 1 || maxDelayNanos < 0) {
                throw new IllegalArgumentException("batching needs max-batch and concurrent-runs of at least 1 and a"
                        + " max-delay of 0 or more, got " + maxBatch + ", " + concurrentRuns + " and " + maxDelayNanos
                        + " ns");
            }
        }
    }

    private final InferenceModel delegate;
    private final Settings settings;
    private final TensorAllocator allocator;
    private final Semaphore slots;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition queued = lock.newCondition();
    private final Deque<Pending> queue = new ArrayDeque<>();
    private final ExecutorService runner;
    private final Thread dispatcher;
    private volatile boolean closed;
    private volatile boolean paddingChecked;
    /** Known at the first run: a model whose rows depend on each other (dynamic quantization) runs each alone. */
    private volatile Boolean batchDependent;

    /** Runs made, a batch counted once. */
    private final LongAdder runs = new LongAdder();
    /** Requests answered by those runs. */
    private final LongAdder requests = new LongAdder();
    /** What padding cost the batches. */
    private final Batches.Waste waste = new Batches.Waste();

    public BatchingInferenceModel(InferenceModel delegate, Settings settings, TensorAllocator allocator) {
        this.delegate = delegate;
        this.settings = settings;
        this.allocator = allocator;
        this.slots = new Semaphore(settings.concurrentRuns(), true);
        this.runner = Executors.newFixedThreadPool(settings.concurrentRuns(),
                Thread.ofPlatform().daemon().name("batch-" + delegate.name() + "-", 0).factory());
        this.dispatcher = Thread.ofPlatform().daemon().name("batcher-" + delegate.name()).start(this::dispatch);
    }

    private static final class Pending {
        final Map<String, Tensor> inputs;
        final CompletableFuture<InferenceResult> result = new CompletableFuture<>();

        Pending(Map<String, Tensor> inputs) {
            this.inputs = inputs;
        }
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public List<TensorSpec> inputs() {
        return delegate.inputs();
    }

    @Override
    public List<TensorSpec> outputs() {
        return delegate.outputs();
    }

    /** The settings this model batches with. */
    public Settings settings() {
        return settings;
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs) {
        if (closed) {
            throw new ModelSharingException("Model '" + name() + "' is closed: the application is stopping");
        }
        if (batchDependent()) {
            return delegate.run(inputs); // never batched, and not held to one run at a time either
        }
        Padding padding = padding();
        long rows = Batches.rows(inputs);
        if (rows == 0 || rows >= settings.maxBatch() || (padding != null && padding.length(inputs) < 0)) {
            return runAlone(inputs);
        }
        Pending pending = new Pending(inputs);
        lock.lock();
        try {
            if (closed) {
                throw new ModelSharingException("Model '" + name() + "' is closed: the application is stopping");
            }
            if (queue.isEmpty() && Batches.takeFreeSlot(slots)) {
                pending = null; // alone: run in this thread, below
            } else {
                queue.addLast(pending);
                queued.signal();
            }
        } finally {
            lock.unlock();
        }
        return pending == null ? runInSlot(inputs) : await(pending);
    }

    @Override
    public boolean batchDependent() {
        Boolean known = batchDependent;
        if (known == null) {
            known = delegate.batchDependent(); // not at construction: that would load a lazy model
            batchDependent = known;
        }
        return known;
    }

    private InferenceResult runAlone(Map<String, Tensor> inputs) {
        slots.acquireUninterruptibly();
        return runInSlot(inputs);
    }

    /** Runs one request in the run slot this thread holds, and gives the slot back. */
    private InferenceResult runInSlot(Map<String, Tensor> inputs) {
        try {
            runs.increment();
            requests.increment();
            return delegate.run(inputs);
        } finally {
            slots.release();
        }
    }

    private static InferenceResult await(Pending pending) {
        boolean interrupted = false;
        try {
            for (;;) {
                try {
                    return pending.result.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the request is queued or running: its answer still comes
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException runtime) {
                        throw runtime;
                    }
                    if (e.getCause() instanceof Error error) {
                        throw error;
                    }
                    throw new ModelSharingException("Model run failed: " + e.getCause(), e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void dispatch() {
        try {
            while (!closed) {
                lock.lock();
                try {
                    while (queue.isEmpty() && !closed) {
                        queued.await();
                    }
                } finally {
                    lock.unlock();
                }
                if (closed) {
                    break;
                }
                slots.acquire(); // meanwhile the queue fills: that is the batch
                List<Pending> batch = new ArrayList<>();
                try {
                    take(System.nanoTime() + settings.maxDelayNanos(), batch);
                    if (closed) {
                        throw new RejectedExecutionException("closed"); // its calls fail below, none runs after close
                    }
                    runner.execute(() -> {
                        try {
                            run(batch);
                        } catch (Throwable e) {
                            // an Error from the model: whoever has no answer yet gets it, none waits forever
                            batch.forEach(pending -> pending.result.completeExceptionally(e));
                            throw e;
                        } finally {
                            slots.release();
                        }
                    });
                } catch (RuntimeException | InterruptedException e) {
                    // closed while taking or handing on the batch: its calls fail rather than wait
                    slots.release();
                    ModelSharingException closing = new ModelSharingException("Model '" + name()
                            + "' closed before this request ran", e);
                    batch.forEach(pending -> pending.result.completeExceptionally(closing));
                    if (e instanceof InterruptedException) {
                        throw (InterruptedException) e;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            failQueued();
        }
    }

    /**
     * Moves into {@code batch} the queue's first request and every queued one that stacks with it, within the batch's
     * rows and {@link Padding#worthPadding its padding bound}, waiting until {@code until} for more.
     */
    private void take(long until, List<Pending> batch) throws InterruptedException {
        Batches.Gathering gathering = null;
        lock.lock();
        try {
            for (;;) {
                for (Iterator<Pending> it = queue.iterator(); it.hasNext() && (gathering == null || !gathering.full());) {
                    Pending next = it.next();
                    if (gathering == null) {
                        // the padding was checked by the calls' first
                        gathering = new Batches.Gathering(next.inputs, settings.padding(), settings.maxBatch());
                    } else if (!gathering.add(next.inputs)) {
                        continue;
                    }
                    batch.add(next);
                    it.remove();
                }
                long left = until - System.nanoTime();
                if ((gathering != null && gathering.full()) || left <= 0 || closed) {
                    return;
                }
                queued.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The padding, checked against the model at the first call: a padding that names what the model lacks, or values
     * its inputs cannot hold, fails every call with the reason, as a wrong configuration should.
     */
    private Padding padding() {
        Padding padding = settings.padding();
        if (padding != null && !paddingChecked) {
            padding.checkAgainst(name(), delegate.inputs(), delegate.outputs());
            paddingChecked = true;
        }
        return padding;
    }

    private void run(List<Pending> batch) {
        if (batch.size() > 1 && runStacked(batch)) {
            return;
        }
        for (Pending pending : batch) {
            try {
                runs.increment();
                requests.increment();
                pending.result.complete(delegate.run(pending.inputs));
            } catch (RuntimeException e) {
                pending.result.completeExceptionally(e);
            }
        }
    }

    /** Runs the batch as one; false, having answered none, if that failed. */
    private boolean runStacked(List<Pending> batch) {
        List<Map<String, Tensor>> inputs = batch.stream().map(pending -> pending.inputs).toList();
        List<Map<String, Tensor>> parts;
        Map<String, Tensor> stacked = Map.of();
        try {
            stacked = Batches.stack(inputs, settings.padding(), allocator);
            InferenceResult result = delegate.run(stacked);
            try (result) {
                parts = Batches.split(name(), result.asMap(), inputs, settings.padding(), allocator);
            }
        } catch (RuntimeException e) {
            System.getLogger(BatchingInferenceModel.class.getName()).log(System.Logger.Level.DEBUG,
                    () -> "A batch of " + batch.size() + " requests for model '" + name() + "' failed; each runs alone: "
                            + e.getMessage());
            return false;
        } finally {
            stacked.values().forEach(Tensor::close);
        }
        runs.increment();
        requests.add(batch.size());
        waste.add(inputs, settings.padding());
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).result.complete(new InferenceResult(name(), parts.get(i)));
        }
        return true;
    }

    /** Requests waiting for a run slot. */
    public int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** Runs made (a batch counts once) and requests they answered: their ratio is the mean batch. */
    public long[] runsAndRequests() {
        return new long[] { runs.sum(), requests.sum() };
    }

    /** The share of padded inputs' positions in batches that were padding, 0 to 1; 0 before any padded batch. */
    public double paddingWaste() {
        return waste.share();
    }

    private void failQueued() {
        lock.lock();
        try {
            for (Pending pending : queue) {
                pending.result.completeExceptionally(
                        new ModelSharingException("Model '" + name() + "' closed before this request ran"));
            }
            queue.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Stops batching: queued requests fail, running ones finish. */
    @Override
    public void close() {
        closed = true;
        lock.lock();
        try {
            queued.signalAll();
        } finally {
            lock.unlock();
        }
        dispatcher.interrupt();
        runner.shutdown();
    }
}
