package io.quarkiverse.modelsharing.onnx;

/**
 * ONNX Runtime session options that the configuration can set.
 *
 * @param intraOpThreads threads one operator may use, or 0 for ONNX Runtime's default (one per core)
 * @param interOpThreads threads that run independent operators in parallel, or 0 for the default
 * @param optimizationLevel graph optimizations applied when the session is created
 * @param cudaDevice the CUDA device to run on through ONNX Runtime's CUDA execution provider, or -1 for the CPU
 */
public record OnnxSessionSettings(int intraOpThreads, int interOpThreads, OptimizationLevel optimizationLevel,
        int cudaDevice) {

    public static final OnnxSessionSettings DEFAULT = new OnnxSessionSettings(0, 0, OptimizationLevel.ALL);

    /** Settings for the CPU. */
    public OnnxSessionSettings(int intraOpThreads, int interOpThreads, OptimizationLevel optimizationLevel) {
        this(intraOpThreads, interOpThreads, optimizationLevel, -1);
    }

    /** The same settings on a CUDA device. */
    public OnnxSessionSettings onCuda(int device) {
        return new OnnxSessionSettings(intraOpThreads, interOpThreads, optimizationLevel, device);
    }

    public OnnxSessionSettings {
        if (intraOpThreads < 0 || interOpThreads < 0) {
            throw new IllegalArgumentException("thread counts must not be negative: intra-op " + intraOpThreads
                    + ", inter-op " + interOpThreads);
        }
    }

    /** ONNX Runtime's graph optimization levels. */
    public enum OptimizationLevel {
        NONE,
        BASIC,
        EXTENDED,
        ALL
    }
}
