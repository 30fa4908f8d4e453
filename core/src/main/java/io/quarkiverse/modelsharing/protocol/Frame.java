package io.quarkiverse.modelsharing.protocol;

import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * The messages of the worker protocol. Every frame carries the request id it belongs to, so that a connection can
 * have many requests in flight; {@link FrameCodec} defines the one binary layout.
 */
public sealed interface Frame {

    /** Sent by both sides: 0 for frames that belong to no request (hello, heartbeat). */
    long requestId();

    /** What a side can do, exchanged in {@link Hello} and {@link Welcome}. */
    int SHARED_MEMORY = 1;
    int INLINE_TENSORS = 1 << 1;
    int BATCHING = 1 << 2;

    /** Client to worker, first frame: the protocol version and what the client can do. */
    record Hello(long requestId, int version, int capabilities, String client) implements Frame {
    }

    /** Worker to client, the answer to {@link Hello}. */
    record Welcome(long requestId, int version, int capabilities, String worker) implements Frame {
    }

    /**
     * Load a model (the worker loads each model once, whoever asks). {@code padding}, empty for none, is how a model
     * registered by this load pads requests of different lengths to batch them ({@code Padding}'s text).
     */
    record Load(long requestId, String model, String padding) implements Frame {
        public Load(long requestId, String model) {
            this(requestId, model, "");
        }
    }

    /**
     * The model is loaded; its inputs and outputs, so that clients can check requests before sending them, and
     * whether a row's answer depends on the rest of its batch (dynamic quantization), so that clients do not batch
     * their own texts either.
     */
    record Loaded(long requestId, String model, List<TensorSpec> inputs, List<TensorSpec> outputs, boolean batchDependent)
            implements
                Frame {
        public Loaded {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
        }

        public Loaded(long requestId, String model, List<TensorSpec> inputs, List<TensorSpec> outputs) {
            this(requestId, model, inputs, outputs, false);
        }
    }

    /** Run a model; a timeout of 0 means the worker's default. */
    record Infer(long requestId, String model, int timeoutMillis, List<WireTensor> inputs) implements Frame {
        public Infer {
            inputs = List.copyOf(inputs);
        }
    }

    /** The outputs of an {@link Infer}; shared outputs are leased to the connection until released or closed. */
    record Result(long requestId, List<WireTensor> outputs) implements Frame {
        public Result {
            outputs = List.copyOf(outputs);
        }
    }

    /** A request failed; {@code code} is one of {@link ErrorCode}'s. */
    record Error(long requestId, ErrorCode code, String message) implements Frame {
    }

    /** The client is done with the leased outputs of a request. */
    record Release(long requestId) implements Frame {
    }

    /** Ask for the worker's status. */
    record Status(long requestId) implements Frame {
    }

    /** The worker's status as name-value pairs (models, queue depth, ...). */
    record StatusReply(long requestId, Map<String, String> values) implements Frame {
        public StatusReply {
            values = Map.copyOf(values);
        }
    }

    /** Liveness, both ways. */
    record Heartbeat(long requestId) implements Frame {
    }

    /** The client gave up on a request: drop it if it has not run, discard its outputs if it has. */
    record Cancel(long requestId) implements Frame {
    }

    /**
     * Either side, before the first frame that names one of its pools: the pool itself, a sealed memfd that travels
     * beside the frame as a file descriptor ({@code SCM_RIGHTS}). {@code descriptor} is the sender's descriptor when
     * sending and the received one when read (the reader owns it); it is not part of the payload.
     */
    record SharePool(long requestId, String poolId, long bytes, int descriptor) implements Frame {
    }

    /** Why a request failed. */
    enum ErrorCode {
        PROTOCOL,
        UNKNOWN_MODEL,
        LOAD_FAILED,
        INVALID_INPUT,
        OVERLOADED,
        TIMEOUT,
        CANCELLED,
        WORKER_UNAVAILABLE,
        INTERNAL,
        FORBIDDEN
    }
}
