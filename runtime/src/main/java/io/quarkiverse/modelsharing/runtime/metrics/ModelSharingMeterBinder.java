package io.quarkiverse.modelsharing.runtime.metrics;

import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.quarkiverse.modelsharing.inference.BatchingInferenceModel;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelStats;
import io.quarkiverse.modelsharing.runtime.ModelSharingRecorder;
import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;

/**
 * Publishes each model's registry counters as Micrometer meters tagged {@code model=<name>}; Quarkus binds every
 * {@link MeterBinder} bean when Micrometer is present.
 */
@Singleton
public class ModelSharingMeterBinder implements MeterBinder {

    @Inject
    ModelRegistry registry;

    @Inject
    WorkerPool workers;

    @Inject
    RemoteModels remotes;

    @Override
    public void bindTo(MeterRegistry meters) {
        bindWorkers(meters);
        remotes.all().forEach((name, remote) -> {
            FunctionTimer.builder("model.sharing.remote.requests", remote, r -> r.totals()[0], r -> r.totals()[2],
                    TimeUnit.NANOSECONDS).description("Requests to the model's remote server, and how long they took")
                    .tag("model", name).register(meters);
            FunctionCounter.builder("model.sharing.remote.failures", remote, r -> r.totals()[1])
                    .description("Requests to the model's remote server that failed: refused, timed out or unreachable")
                    .tag("model", name).register(meters);
        });
        for (String name : registry.names()) {
            counter(meters, name, "model.sharing.hits", "Acquisitions served by the loaded model", ModelStats::hits);
            counter(meters, name, "model.sharing.misses", "Acquisitions that loaded the model or waited for its load",
                    ModelStats::misses);
            counter(meters, name, "model.sharing.loads", "Successful loads", ModelStats::loads);
            counter(meters, name, "model.sharing.load.failures", "Failed loads", ModelStats::loadFailures);
            counter(meters, name, "model.sharing.evictions", "Times the model was unloaded by policy", ModelStats::evictions);
            Gauge.builder("model.sharing.memory", registry, r -> r.stats(name).bytes()).baseUnit("bytes")
                    .description("Memory the loaded model is accounted for").tag("model", name).register(meters);
            Gauge.builder("model.sharing.handles", registry, r -> r.stats(name).liveHandles())
                    .description("Open handles to the model").tag("model", name).register(meters);
            TimeGauge.builder("model.sharing.load.time", registry, TimeUnit.MILLISECONDS,
                    r -> r.stats(name).lastLoadTime().toNanos() / 1e6)
                    .description("How long the last load took").tag("model", name).register(meters);
            batching(meters, name);
        }
    }

    /** In-process batching: 0 for a model that does not batch in process, or before its first call. */
    private static void batching(MeterRegistry meters, String name) {
        FunctionCounter.builder("model.sharing.batch.runs", name,
                n -> ModelSharingRecorder.batching(n).map(b -> (double) b.runsAndRequests()[0]).orElse(0.0))
                .description("Runs of the model's in-process batcher; requests per run is the mean batch size")
                .tag("model", name).register(meters);
        FunctionCounter.builder("model.sharing.batch.requests", name,
                n -> ModelSharingRecorder.batching(n).map(b -> (double) b.runsAndRequests()[1]).orElse(0.0))
                .description("Calls that the in-process batcher's runs answered").tag("model", name).register(meters);
        Gauge.builder("model.sharing.batch.padding.waste", name,
                n -> ModelSharingRecorder.batching(n).map(BatchingInferenceModel::paddingWaste).orElse(0.0))
                .description("Share of the padded inputs' positions in batches that were padding, 0 to 1")
                .tag("model", name).register(meters);
    }

    private void bindWorkers(MeterRegistry meters) {
        if (workers.isEmpty()) {
            return;
        }
        FunctionCounter.builder("model.sharing.worker.restarts", workers, WorkerPool::restarts)
                .description("Restarts of managed workers").register(meters);
        FunctionTimer.builder("model.sharing.worker.requests", workers, w -> w.requestTotals()[0],
                w -> w.requestTotals()[1], TimeUnit.NANOSECONDS)
                .description("Round trips of requests to workers").register(meters);
        Gauge.builder("model.sharing.worker.queue", workers, w -> w.workerStatus("queue"))
                .description("Requests accepted by the workers and not yet answered").register(meters);
        FunctionCounter.builder("model.sharing.worker.runs", workers, w -> w.workerStatus("runs"))
                .description("Model runs in the workers; requests per run is the mean batch size").register(meters);
        FunctionCounter.builder("model.sharing.worker.batched.requests", workers, w -> w.workerStatus("requests"))
                .description("Requests the workers' runs served").register(meters);
    }

    private void counter(MeterRegistry meters, String name, String meter, String description,
            ToDoubleFunction<ModelStats> value) {
        FunctionCounter.builder(meter, registry, r -> value.applyAsDouble(r.stats(name))).description(description)
                .tag("model", name).register(meters);
    }
}
