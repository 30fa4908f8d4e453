package io.quarkiverse.modelsharing.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import io.quarkiverse.modelsharing.onnx.OnnxSessionSettings.OptimizationLevel;
import io.quarkiverse.modelsharing.registry.EvictionPolicy;
import io.quarkiverse.modelsharing.text.Pooling;
import io.quarkus.runtime.annotations.ConfigDocMapKey;
import io.quarkus.runtime.annotations.ConfigDocSection;
import io.quarkus.runtime.annotations.ConfigPhase;
import io.quarkus.runtime.annotations.ConfigRoot;
import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithDefaults;

/**
 * How models are loaded, kept and evicted at run time.
 */
@ConfigMapping(prefix = "quarkus.model-sharing")
@ConfigRoot(phase = ConfigPhase.RUN_TIME)
public interface ModelSharingConfig {

    /**
     * The in-process model registry.
     */
    @ConfigDocSection
    RegistryConfig registry();

    /**
     * Run-time settings of each model, by name.
     */
    @ConfigDocSection
    @ConfigDocMapKey("model-name")
    @WithDefaults
    Map<String, ModelRuntimeConfig> models();

    /**
     * Tensors in shared memory.
     */
    @ConfigDocSection
    SharedMemoryConfig sharedMemory();

    /**
     * Tensors on the Vert.x event bus.
     */
    EventBusConfig eventBus();

    /**
     * Worker processes that serve models placed in them.
     */
    @ConfigDocSection
    WorkersConfig workers();

    /**
     * The Open Inference Protocol (KServe's "v2" protocol): every model of the application served on {@code /v2},
     * when quarkus-vertx-http is present.
     */
    @ConfigDocSection
    InferenceProtocolConfig inferenceProtocol();

    interface InferenceProtocolConfig {

        /**
         * Whether the application serves its models (in process, in workers or remote) over the protocol's REST API
         * on the HTTP port: {@code /v2/health/live}, {@code /v2/health/ready}, {@code /v2}, {@code /v2/models/<name>}
         * (metadata), {@code .../ready} and {@code .../infer}, with JSON and binary tensors. A request body is
         * bounded by {@code quarkus.http.limits.max-body-size}.
         */
        @WithDefault("false")
        boolean enabled();

        /**
         * Whether clients on the same host may register system shared-memory regions
         * ({@code /v2/systemsharedmemory/...}) and name them for inputs and outputs, instead of sending tensor bytes
         * over HTTP. Off by default, as Triton keeps it ({@code --allow-client-shm}): a region is a file in
         * {@code shared-memory.directory}, which must be a regular file of this application's user.
         */
        @WithDefault("false")
        boolean allowClientShm();

        /**
         * The most shared-memory regions registered at once; each holds an open file.
         */
        @WithDefault("64")
        int maxRegions();
    }

    interface WorkersConfig {

        /**
         * {@code managed}: the application starts, supervises and stops its own workers. {@code external}: connect to a
         * node-level worker daemon at {@code socket}, shared by many applications.
         */
        @WithDefault("managed")
        WorkerMode mode();

        /**
         * The worker daemon's Unix domain socket, for {@code external} mode.
         */
        Optional<Path> socket();

        /**
         * Whether to register the worker-placed models with the external daemon when connecting, for a daemon started
         * with {@code --dynamic-models} (Dev Services set this).
         */
        @WithDefault("false")
        boolean registerModels();

        /**
         * Set by Dev Services: the external daemon is the user's shared Dev Services daemon, which leaves this long
         * after it was last used and no application that used it still runs. If it is gone when a model is called, the
         * application starts it again on the same socket, with this linger, instead of waiting for a daemon that will
         * not come back.
         */
        Optional<Duration> sharedDaemonLinger();

        /**
         * Devices to start managed workers on: {@code cpu}, or {@code cuda:0}, {@code cuda:1}, ... Each worker sees only
         * its device ({@code CUDA_VISIBLE_DEVICES}) and runs ONNX Runtime's execution provider for it.
         */
        @WithDefault("cpu")
        List<String> devices();

        /**
         * Managed workers per device.
         */
        @WithDefault("1")
        int perDevice();

        /**
         * Requests one managed worker runs at once.
         */
        @WithDefault("2")
        int threads();

        /**
         * Requests a managed worker accepts before it answers "overloaded".
         */
        @WithDefault("1024")
        int queue();

        /**
         * Most rows one run batches together; 1 turns dynamic batching off.
         */
        @WithDefault("8")
        int maxBatch();

        /**
         * Longest wait of a request for others to batch with. 0 batches continuously instead: a request that finds its
         * model idle runs at once (a lone caller never waits), and what queues while one of the model's batches runs
         * is the next batch, as in process.
         */
        @WithDefault("10ms")
        Duration maxDelay();

        /**
         * Deadline of a request to a worker.
         */
        @WithDefault("30s")
        Duration timeout();

        /**
         * How long a managed worker may take to start before startup fails.
         */
        @WithDefault("60s")
        Duration startTimeout();

        /**
         * How long a restarted managed worker must stay up before its restart delay starts again from 100 ms. A worker
         * that dies sooner, e.g. right after it said it listens, waits twice as long before each next start, up to 5 s.
         */
        @WithDefault("10s")
        Duration stablePeriod();

        /**
         * How often the application asks each worker for its status, on the worker's connection. Readiness reports
         * what the last heartbeat found: a worker is {@code up} once it has answered one.
         */
        @WithDefault("2s")
        Duration heartbeatInterval();

        /**
         * How long a worker may take to answer a heartbeat. A worker that does not answer in time (a frozen or stopped
         * JVM), or that reports a run in progress for longer than {@code timeout} plus this, is reported down in
         * readiness with the reason; a managed worker is then killed and restarted, an external one only reported.
         */
        @WithDefault("10s")
        Duration heartbeatTimeout();
    }

    enum WorkerMode {
        MANAGED,
        EXTERNAL
    }

    enum Placement {
        IN_PROCESS,
        WORKER,
        REMOTE
    }

    interface SharedMemoryConfig {

        /**
         * Whether tensors that other processes should read are allocated in shared-memory pools. Without shared memory
         * (disabled, or the directory missing, read-only or too small), tensors use this process's memory and travel
         * serialized; the log says so once.
         */
        @WithDefault("true")
        boolean enabled();

        /**
         * Whether pools are named files in {@link #directory()}, which any process of the user can open from a tensor
         * descriptor alone: needed only by readers without a worker connection (NumPy, another JVM on a clustered event
         * bus). By default pools are memfds: they reach a worker (and come back from it) as file descriptors over its
         * socket, sealed so that no peer can shrink them, and the kernel frees them with the last process that holds
         * them, SIGKILL included; tensors sent on a clustered event bus then travel inline.
         */
        @WithDefault("false")
        boolean namedFiles();

        /**
         * The tmpfs that holds named pool files, in a per-user directory (0700) of 0600 files. In containers, mount a
         * large enough {@code /dev/shm} (e.g. {@code docker run --shm-size=2g}, or a Kubernetes {@code emptyDir} with
         * {@code medium: Memory}). Memfd pools count against the same memory (and the pod's limit) without a file.
         */
        @WithDefault("/dev/shm")
        Path directory();

        /**
         * The size of each pool file; pools grow by files of this size, and a larger tensor gets a file of its own.
         * Pool files are reserved and pre-faulted when created, so that writing a tensor never page-faults.
         */
        @WithDefault("64M")
        MemorySize poolFileSize();

        /**
         * This process's quota of shared memory: all its pool files together. An allocation past it fails with a
         * clear error.
         */
        @WithDefault("1G")
        MemorySize maxSize();
    }

    interface EventBusConfig {

        /**
         * How long a tensor sent on a clustered event bus stays allocated for receivers in other processes to open,
         * after its sender has closed it. Receivers that opened it hold it as long as they need it.
         */
        @WithDefault("30s")
        Duration wireHold();
    }

    interface RegistryConfig {

        /**
         * Which idle model is unloaded first when a load needs room: {@code lru} (least recently used), {@code lfu}
         * (least frequently used), {@code ttl} (longest idle), or {@code manual} (never on its own; loads that do not
         * fit fail). A model with an open handle is never unloaded.
         */
        @WithDefault("lru")
        EvictionPolicy policy();

        /**
         * The memory budget of all loaded models together, e.g. {@code 2G}. A load that cannot fit after evicting idle
         * models fails with the bytes needed and available. No budget if unset.
         */
        Optional<MemorySize> maxMemory();

        /**
         * How many models may be loaded at once. No limit if unset.
         */
        OptionalInt maxModels();

        /**
         * How long a model stays loaded after its last handle closes, under every policy but {@code manual}.
         * {@code 0} keeps idle models until a load needs their room.
         */
        @WithDefault("30s")
        Duration idleTimeout();
    }

    interface ModelRuntimeConfig {

        /**
         * Threads that one operator may use; ONNX Runtime's default (one per core) if unset.
         */
        OptionalInt intraOpThreads();

        /**
         * Threads that run independent operators in parallel; ONNX Runtime's default if unset.
         */
        OptionalInt interOpThreads();

        /**
         * Graph optimizations that ONNX Runtime applies when it loads the model.
         */
        @WithDefault("all")
        OptimizationLevel optimizationLevel();

        /**
         * Whether to run the model once on zeros right after each load, so that the first request does not pay for
         * ONNX Runtime's lazy initialization.
         */
        @WithDefault("false")
        boolean warmUp();

        /**
         * Where the model runs: {@code in-process}; {@code worker} to serve it from worker processes shared with other
         * applications; or {@code remote}, on the server at {@code url} that speaks the Open Inference Protocol (Triton,
         * KServe, MLServer, OpenVINO Model Server, another application of ours). The same {@code @Model InferenceModel}
         * works with all three.
         */
        @WithDefault("in-process")
        Placement placement();

        /**
         * For {@code placement=remote}: the base URL of the server that serves the model over the Open Inference
         * Protocol, e.g. {@code http://triton:8000}; requests go to {@code <url>/v2/models/<remote.name>/infer}.
         */
        Optional<String> url();

        /**
         * How a remote model is called ({@code placement=remote}).
         */
        RemoteConfig remote();

        /**
         * {@code eager} loads the model at startup, and startup fails if it cannot; {@code lazy} loads it on first use.
         * An eager model is still unloaded when idle, like any other. A model placed in workers is loaded in every worker
         * of the pool (managed) or in the daemon (external). A remote model, eager, is checked at startup: its server
         * must answer with metadata that matches the model file configured for it, if any.
         */
        @WithDefault("lazy")
        LoadMode load();

        /**
         * The memory to account the loaded model for under the registry's budget. Estimated from the file size (twice
         * the file, plus 4 MiB) if unset.
         */
        Optional<MemorySize> memoryEstimate();

        /**
         * How a text embedder pools its token vectors: {@code mean} over the real tokens (all-MiniLM, e5), {@code cls},
         * the first token (BGE), or {@code max}. A model that outputs pooled embeddings ({@code sentence_embedding})
         * is not pooled again.
         */
        @WithDefault("mean")
        Pooling pooling();

        /**
         * A sentence-transformers {@code 1_Pooling/config.json} (file path or {@code classpath:} resource) whose
         * {@code pooling_mode_*} decides the pooling instead of {@code pooling}.
         */
        Optional<String> poolingConfig();

        /**
         * Whether a text embedder scales its embeddings to unit length, as sentence-transformers' Normalize does.
         */
        @WithDefault("true")
        boolean normalize();

        /**
         * The most tokens, special ones included, that a text model reads: BERT's 512 positions by default.
         */
        @WithDefault("512")
        int maxTokens();

        /**
         * Whether a text longer than {@code max-tokens} is cut to it; otherwise it is refused with a
         * {@code TextException}.
         */
        @WithDefault("false")
        boolean truncate();

        /**
         * A text classifier's labels, in the order of its logits; {@code LABEL_0}, {@code LABEL_1}, ... if unset.
         */
        Optional<List<String>> labels();

        /**
         * Dynamic batching of this model's concurrent requests in process, and how requests of different lengths are
         * padded to batch (in process and in workers).
         */
        BatchingConfig batching();
    }

    interface RemoteConfig {

        /**
         * The model's name on the remote server; the application's name for it if unset.
         */
        Optional<String> name();

        /**
         * The model's version on the remote server; the server's choice if unset.
         */
        Optional<String> version();

        /**
         * Deadline of one request to the remote server, connection included; a request past it fails with the
         * model, the URL and this key.
         */
        @WithDefault("30s")
        Duration timeout();

        /**
         * How long opening a connection to the remote server may take.
         */
        @WithDefault("5s")
        Duration connectTimeout();

        /**
         * The most connections open to the remote server at once; requests past them wait for one.
         */
        @WithDefault("16")
        int maxConnections();

        /**
         * Whether tensors travel as binary data (the protocol's binary tensor data extension), or as JSON for a
         * server that lacks it.
         */
        @WithDefault("true")
        boolean binary();

        /**
         * The largest answer read from the remote server; a larger one fails its request as it arrives, so that a
         * remote server cannot fill this process's memory.
         */
        @WithDefault("256M")
        MemorySize maxResponseSize();
    }

    interface BatchingConfig {

        /**
         * Whether concurrent calls run together as one batch. On by default for text models (those with a
         * tokenizer), whose padding the extension knows; off for others unless set. A dynamically quantized model
         * is never batched: its answers would depend on what it is batched with. In workers, this decides whether
         * the model's padding is sent to them; the workers batch by {@code workers.max-batch}.
         */
        Optional<Boolean> enabled();

        /**
         * The most rows one batch holds.
         */
        @WithDefault("32")
        int maxBatch();

        /**
         * How long a batch waits for more requests once a run slot is free. 0 (the default) runs what has queued at
         * once: a lone caller never waits, and under load the batch is what queued during the previous run.
         */
        @WithDefault("0s")
        Duration maxDelay();

        /**
         * How many batches of this model may run at once. One is best on CPU, where a run uses every core through
         * {@code intra-op-threads}.
         */
        @WithDefault("1")
        int concurrentRuns();

        /**
         * With padding, batch only requests whose lengths fall in the same bucket of this many positions, to bound
         * the padding a short text pays for a long one; 0 batches any lengths together. 16 for a text model if unset
         * (on sentences of 8 to 128 tokens, 14% of positions padding against 67% without buckets), 0 for another.
         */
        OptionalInt bucketWidth();

        /**
         * The inputs padded to the batch's longest request, with the value each is padded with, e.g.
         * {@code batching.pad."input_ids"=0}. Unset for a text model: {@code input_ids} with the tokenizer's pad id,
         * {@code attention_mask} and {@code token_type_ids} with 0. Unset for another model: nothing is padded, and
         * only requests of one shape batch.
         */
        @ConfigDocMapKey("input-name")
        Map<String, Double> pad();

        /**
         * The dimension that padded inputs grow along: 1 for {@code [batch, sequence]}.
         */
        @WithDefault("1")
        int padDimension();

        /**
         * The outputs whose {@code pad-dimension} follows the padded inputs, so that each request gets its own length
         * back. Unset for a text model: every output of rank 3 or more whose first two dimensions are free (e.g.
         * {@code last_hidden_state}); for another model, none.
         */
        Optional<Set<String>> sequenceOutputs();
    }

    enum LoadMode {
        EAGER,
        LAZY
    }
}
