package io.quarkiverse.modelsharing.worker;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.stream.Stream;

import io.quarkiverse.modelsharing.inference.Batches;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * Dynamic batching for one model: requests whose inputs agree in everything but the first dimension are stacked
 * along it, run once in the batcher's own memory, and the outputs sliced back per request (each answer copies its
 * slices into its connection's memory). A model started or registered with a {@link Padding} also stacks requests of
 * different lengths, padded to the batch's longest, and gives each its own length back. The first request
 * of a batch waits at most {@code maxDelay} for others; a batch holds at most {@code maxBatch} rows. With a
 * {@code maxDelay} of 0 the batcher batches continuously instead: a request that finds the model idle runs at once,
 * and while a batch of the model runs, the requests that come make the next one.
 * <p>
 * A worker serves every application on its host, so one client's request must never change another's answer. Requests
 * are stacked only where that is sound: the model leaves the first dimension free on every input and output, and
 * all the inputs of each request have the same number of rows (a request whose inputs differ, one broadcast over
 * another say, runs alone). A batch whose outputs do not have the batch's rows first, or that fails for any reason,
 * is rerun request by request: a request that breaks a batch fails alone.
 */
final class Batcher {

    private static final System.Logger LOG = System.getLogger(Batcher.class.getName());

    /**
     * One request waiting to run: its inputs (already opened), where a run of it alone writes its outputs (its
     * connection's memory, so that no other client's pool holds them), and where its answer goes. It is answered
     * exactly once, whether it runs, fails, times out or is cancelled before it starts.
     */
    static final class Pending {

        private static final int QUEUED = 0;
        private static final int STARTED = 1;
        private static final int CANCELLED = 2;

        private final long requestId;
        private final Map<String, Tensor> inputs;
        private final TensorAllocator outputs;
        private final long deadline;
        private final Consumer<Outcome> answer;
        private final AtomicInteger state = new AtomicInteger(QUEUED);

        Pending(long requestId, Map<String, Tensor> inputs, TensorAllocator outputs, long deadline,
                Consumer<Outcome> answer) {
            this.requestId = requestId;
            this.inputs = inputs;
            this.outputs = outputs;
            this.deadline = deadline;
            java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();
            this.answer = outcome -> { // once, even when an Error makes the batcher answer what it may have answered
                if (answered.compareAndSet(false, true)) {
                    answer.accept(outcome);
                }
            };
        }

        /** When it was queued ({@link System#nanoTime()}): a batch waits for more until its oldest request's delay. */
        final long queuedAt = System.nanoTime();

        long requestId() {
            return requestId;
        }

        Map<String, Tensor> inputs() {
            return inputs;
        }

        TensorAllocator outputs() {
            return outputs;
        }

        long deadline() {
            return deadline;
        }

        Consumer<Outcome> answer() {
            return answer;
        }

        /**
         * Drops the request unless it has started: it then never runs, and its answer (a CANCELLED failure) comes when
         * the batcher reaches it. Returns whether it was dropped; a request already running runs to its end.
         */
        boolean cancel() {
            return state.compareAndSet(QUEUED, CANCELLED);
        }

        /** Claims the request for a run: false if it was cancelled first. */
        private boolean start() {
            return state.compareAndSet(QUEUED, STARTED);
        }

        /** The rows this request adds to a batch; 0 when it must run alone (see {@link Batches#rows}). */
        long batchRows() {
            return Batches.rows(inputs);
        }
    }

    /** What a request gets back: its outputs (views the caller owns), or why it failed. */
    record Outcome(Map<String, Tensor> outputs, RuntimeException failure) {
    }

    private final String model;
    private final ModelRegistry registry;
    private final TensorAllocator allocator;
    private final Executor executor;
    private final Semaphore slots;
    private final int maxBatch;
    private final long maxDelayNanos;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    /** Runs started; a batch that fails and is rerun request by request counts once, and each rerun once more. */
    final LongAdder batches = new LongAdder();
    /** Requests in the runs started, a request rerun alone after its batch failed counted again. */
    final LongAdder batchedRequests = new LongAdder();
    /** Runs made by the thread that took the request (see {@link #take}), not by the executor. */
    final LongAdder runsInCaller = new LongAdder();
    /**
     * How long a model's runs may take for the thread that read a request to make it without first handing the
     * connection's reading to another thread: that connection's next frames then wait for one short run, which costs
     * less than waking another thread (about 15 µs of a tiny model's 40 µs round trip).
     */
    static final long QUICK_RUN_NANOS = 500_000;
    /** This model's last two single-request run times, in nanoseconds; -1 until it has run. */
    private volatile long lastRunNanos = -1;
    private volatile long previousRunNanos = -1;
    /** When each run in progress started ({@link System#nanoTime()}), by the thread that makes it. */
    private final Map<Thread, Long> runningSince = new ConcurrentHashMap<>();
    /** Requests taken from the queue that did not stack with the batch they met, oldest first (dispatcher only). */
    private final java.util.ArrayDeque<Pending> leftovers = new java.util.ArrayDeque<>();
    /** The most leftovers the dispatcher holds: past them, it stops gathering and runs what it has. */
    static final int LEFTOVERS = 256;
    /** How many leftovers there are, for {@link #waiting()} from other threads. */
    private volatile int leftoverCount;
    /** Batches of this model handed to the executor and not yet ended. */
    private final AtomicInteger running = new AtomicInteger();
    /** How many batches of this model may run at once with continuous batching: the worker's run slots. */
    private final int concurrency;
    private volatile Boolean batchable;
    /** How requests of different lengths pad to batch together; null: only requests of one shape batch. */
    private volatile Padding padding;
    /** What padding cost this model's stacked batches. */
    final Batches.Waste waste = new Batches.Waste();

    Batcher(String model, ModelRegistry registry, TensorAllocator allocator, Executor executor, Semaphore slots,
            int maxBatch, long maxDelayNanos, Padding padding) {
        this.concurrency = Math.max(1, slots.availablePermits());
        this.padding = padding;
        this.model = model;
        this.registry = registry;
        this.allocator = allocator;
        this.executor = executor;
        this.slots = slots;
        this.maxBatch = maxBatch;
        this.maxDelayNanos = maxDelayNanos;
        Thread.ofPlatform().daemon().name("worker-batcher-" + model).start(this::dispatch);
    }

    /**
     * Takes a request. A model that runs requests one at a time runs it in the calling thread if a run slot is free
     * and no one waits for one: the request comes back as a task, so that the caller can first hand its other duties
     * on. Otherwise the request is queued (for a batch, or for the executor) and {@code null} is returned.
     */
    Runnable take(Pending pending) {
        if (batchable()) {
            queue.add(pending);
            return null;
        }
        if (Batches.takeFreeSlot(slots)) {
            return () -> {
                runsInCaller.increment();
                runHoldingSlot(List.of(pending));
            };
        }
        executor.execute(() -> runInSlot(List.of(pending)));
        return null;
    }

    int waiting() {
        return queue.size() + leftoverCount;
    }

    /**
     * Whether the model has a free first dimension on every input and output, so that stacking requests along it
     * and slicing the outputs back is right, and no operator that makes a row's answer depend on the other rows
     * (dynamic quantization). Other models run each request alone.
     */
    private boolean batchable() {
        Boolean known = batchable;
        if (known == null) {
            try (ModelHandle<InferenceModel> handle = registry.acquire(model, InferenceModel.class)) {
                known = maxBatch > 1 && !handle.get().batchDependent() && Stream.concat(handle.get().inputs().stream(),
                        handle.get().outputs().stream()).allMatch(spec -> spec.shape().length > 0 && spec.shape()[0] < 0);
                if (padding != null) {
                    try {
                        padding.checkAgainst(model, handle.get().inputs(), handle.get().outputs());
                    } catch (RuntimeException wrong) {
                        // its loads say why (ClientConnection); until then only requests of one shape batch
                        LOG.log(Level.WARNING, () -> "Model '" + model + "' batches without padding: " + wrong.getMessage());
                        padding = null;
                    }
                }
            } catch (RuntimeException e) {
                known = false;
            }
            batchable = known;
        }
        return known;
    }

    private void dispatch() {
        try {
            for (;;) {
                Pending first = leftovers.isEmpty() ? queue.take() : leftovers.pollFirst();
                if (maxDelayNanos == 0) {
                    awaitIdle(); // continuous batching: what queues while this model's last batch runs is the next
                }
                List<Pending> batch = gather(first);
                leftoverCount = leftovers.size();
                running.incrementAndGet();
                try {
                    executor.execute(() -> {
                        try {
                            runInSlot(batch);
                        } catch (Throwable e) {
                            fail(batch, e); // an Error from the model: every request of the batch is still answered
                            throw e;
                        } finally {
                            ended();
                        }
                    });
                } catch (RejectedExecutionException e) {
                    ended(); // the worker is closing
                    fail(batch, e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * {@code first} and the requests that stack with it, within {@code maxBatch} rows and the padding bound: those
     * left over from earlier batches first, then those that come within {@code maxDelay}. A request that does not
     * stack (another shape, another length bucket) waits among the leftovers for a batch of its own, in its order,
     * rather than ending this one.
     */
    private List<Pending> gather(Pending first) throws InterruptedException {
        List<Pending> batch = new ArrayList<>(List.of(first));
        if (first.batchRows() == 0) {
            return batch; // a request that cannot stack runs alone, at once
        }
        Batches.Gathering gathering = new Batches.Gathering(first.inputs(), padding, maxBatch);
        for (java.util.Iterator<Pending> it = leftovers.iterator(); it.hasNext() && !gathering.full();) {
            Pending next = it.next();
            if (gathering.add(next.inputs())) {
                batch.add(next);
                it.remove();
            }
        }
        // the wait is counted from the oldest request in sight, so that one that waited among the leftovers does not wait
        // a whole delay again, and a batch of another shape costs no more than what is left of it
        long oldest = leftovers.isEmpty() ? first.queuedAt : Math.min(first.queuedAt, leftovers.peekFirst().queuedAt);
        long until = oldest + maxDelayNanos;
        while (!gathering.full() && leftovers.size() < LEFTOVERS) {
            long left = until - System.nanoTime();
            Pending next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
            if (next == null) {
                break;
            }
            if (gathering.add(next.inputs())) {
                batch.add(next);
            } else {
                leftovers.addLast(next);
            }
        }
        return batch;
    }

    /**
     * Waits until fewer batches of this model run than there are run slots, so that a slow batch does not hold back
     * the next while a slot is free. The dispatcher holds no run slot meanwhile, so it never keeps a run of another
     * model from its slot.
     */
    private void awaitIdle() throws InterruptedException {
        synchronized (running) {
            while (running.get() >= concurrency) {
                running.wait();
            }
        }
    }

    private void ended() {
        synchronized (running) {
            running.decrementAndGet();
            running.notifyAll();
        }
    }

    /** Answers every request of {@code batch} that has no answer yet with {@code failure}. */
    private void fail(List<Pending> batch, Throwable failure) {
        WorkerException answer = new WorkerException(Frame.ErrorCode.INTERNAL, "Model '" + model + "' failed: " + failure);
        batch.forEach(pending -> pending.answer().accept(new Outcome(null, answer)));
    }

    /** Runs a batch once a run slot is free: the slots bound the runs of the executor and of callers together. */
    private void runInSlot(List<Pending> batch) {
        slots.acquireUninterruptibly();
        runHoldingSlot(batch);
    }

    /** Runs a batch in the run slot this thread holds, and gives the slot back. */
    private void runHoldingSlot(List<Pending> batch) {
        try {
            run(batch);
        } finally {
            slots.release();
        }
    }

    /**
     * Runs a batch: stacked, if it has several requests, and rerun request by request if that fails, so that a
     * request that breaks the batch fails alone and the others still get their answers.
     */
    private void run(List<Pending> batch) {
        long now = System.nanoTime();
        List<Pending> live = new ArrayList<>();
        for (Pending pending : batch) {
            if (!pending.start()) {
                pending.answer().accept(new Outcome(null, new WorkerException(Frame.ErrorCode.CANCELLED,
                        "Request " + pending.requestId() + " for model '" + model + "' was cancelled before it ran")));
            } else if (now > pending.deadline()) {
                pending.answer().accept(new Outcome(null, new WorkerException(Frame.ErrorCode.TIMEOUT,
                        "Request " + pending.requestId() + " for model '" + model
                                + "' waited past its deadline in the worker's queue")));
            } else {
                live.add(pending);
            }
        }
        if (live.isEmpty()) {
            return;
        }
        ModelHandle<InferenceModel> handle;
        try {
            handle = registry.acquire(model, InferenceModel.class);
        } catch (RuntimeException e) {
            live.forEach(pending -> pending.answer().accept(new Outcome(null, e)));
            return;
        }
        runningSince.put(Thread.currentThread(), System.nanoTime());
        try (handle) {
            if (live.size() > 1 && runStacked(handle.get(), live)) {
                return;
            }
            live.forEach(pending -> runAlone(handle.get(), pending));
        } finally {
            runningSince.remove(Thread.currentThread());
        }
    }

    /**
     * When the oldest run of this model still in progress started ({@link System#nanoTime()}), or
     * {@link Long#MAX_VALUE} if none is: a run that goes on far past its request's deadline is a worker stuck in it.
     */
    long oldestRunStart() {
        return runningSince.values().stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
    }

    /** Runs one request in its connection's memory; its failure is its own. */
    private void runAlone(InferenceModel inference, Pending pending) {
        batches.increment();
        batchedRequests.increment();
        Outcome outcome;
        try {
            long start = System.nanoTime();
            InferenceResult result = inference.run(pending.inputs(), pending.outputs());
            observe(System.nanoTime() - start);
            outcome = new Outcome(new LinkedHashMap<>(result.asMap()), null);
        } catch (RuntimeException e) {
            outcome = new Outcome(null, e);
        }
        pending.answer().accept(outcome);
    }

    /**
     * Runs the requests stacked along the first dimension and answers each with its rows of every output. Returns
     * false, having answered none, if the batch failed: stacking, the run, or an output whose first dimension is not
     * the batch's rows (a model that concatenates, or reduces over, the batch).
     */
    private boolean runStacked(InferenceModel inference, List<Pending> batch) {
        batches.increment();
        batchedRequests.add(batch.size());
        List<Map<String, Tensor>> inputs = batch.stream().map(Pending::inputs).toList();
        Padding padding = this.padding;
        List<Map<String, Tensor>> answers;
        Map<String, Tensor> stacked = Map.of();
        try {
            stacked = Batches.stack(inputs, padding, allocator);
            try (InferenceResult result = inference.run(stacked, allocator)) {
                answers = Batches.split(model, result.asMap(), inputs, padding, allocator);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "A batch of " + batch.size() + " requests for model '" + model
                    + "' failed; each runs alone: " + e.getMessage());
            return false;
        } finally {
            stacked.values().forEach(Tensor::close);
        }
        waste.add(inputs, padding);
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).answer().accept(new Outcome(answers.get(i), null));
        }
        return true;
    }

    /**
     * Whether this model's runs are short (see {@link #QUICK_RUN_NANOS}): one of its last two runs was. A single slow
     * run, a pause or a larger input, does not change the verdict; two in a row do. Unknown (false) until it has run.
     */
    boolean isQuick() {
        long last = lastRunNanos;
        long previous = previousRunNanos;
        return (last >= 0 && last <= QUICK_RUN_NANOS) || (previous >= 0 && previous <= QUICK_RUN_NANOS);
    }

    private void observe(long nanos) {
        previousRunNanos = lastRunNanos; // racing runs may lose a sample: the verdict only needs recent ones
        lastRunNanos = nanos;
    }
}
