package io.quarkiverse.modelsharing.onnx;

import java.nio.file.Path;
import java.util.Optional;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.registry.ModelLoader;

/**
 * Loads an ONNX model into an ONNX Runtime session: the registry's loader for {@link OnnxModel}s.
 *
 * @param name the model's registered name
 * @param source where the model's bytes are
 * @param settings session options
 * @param memoryEstimate bytes to account the loaded model for, or 0 to estimate from the file size
 * @param warmUp whether to run the model once on zeros right after loading it
 */
public record OnnxModelLoader(String name, ModelSource source, OnnxSessionSettings settings, long memoryEstimate,
        boolean warmUp) implements ModelLoader<OnnxModel> {

    /**
     * ONNX Runtime keeps the weights and, at the higher optimization levels, pre-packed copies of them; twice the
     * file plus a few MiB of arena is what a session takes in practice.
     */
    static final long SESSION_OVERHEAD_BYTES = 4L << 20;

    public static OnnxModelLoader of(String name, ModelSource source) {
        return new OnnxModelLoader(name, source, OnnxSessionSettings.DEFAULT, 0, false);
    }

    @Override
    public String describe() {
        return source.describe();
    }

    @Override
    public boolean isAvailable() {
        return source.exists();
    }

    @Override
    public long estimateBytes() {
        if (memoryEstimate > 0) {
            return memoryEstimate;
        }
        long size = source.byteSize();
        return size < 0 ? SESSION_OVERHEAD_BYTES : 2 * size + SESSION_OVERHEAD_BYTES;
    }

    /** What reads a model's operators. */
    private interface Inspection {
        OnnxModelInfo inspect() throws java.io.IOException;
    }

    /**
     * Whether the model has an operator that makes a row's answer depend on its batch; true, so that it is never
     * batched, if the inspector cannot read a file that ONNX Runtime can (an ORT-format model, say).
     */
    private static boolean batchDependent(Inspection inspection) {
        try {
            return inspection.inspect().batchDependent();
        } catch (java.io.IOException | RuntimeException e) {
            return true;
        }
    }

    @Override
    public OnnxModel load() throws Exception {
        if (!source.exists()) {
            throw new InvalidModelException("Model '" + name + "' cannot be loaded: " + source.describe() + " does not exist");
        }
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        OrtSession session;
        boolean batchDependent;
        try (OrtSession.SessionOptions options = options()) {
            Optional<Path> file = source instanceof ModelSource.FileSource ? source.localFile() : Optional.empty();
            if (file.isPresent()) {
                batchDependent = batchDependent(() -> OnnxModelInspector.inspect(file.get()));
                session = environment.createSession(file.get().toString(), options);
            } else {
                byte[] bytes = source.readAllBytes();
                batchDependent = batchDependent(() -> OnnxModelInspector.inspect(bytes, source.describe()));
                session = environment.createSession(bytes, options);
            }
        }
        OnnxModel model = new OnnxModel(name, environment, session, batchDependent);
        if (warmUp) {
            try {
                model.warmUp();
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        return model;
    }

    private OrtSession.SessionOptions options() throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        if (settings.intraOpThreads() > 0) {
            options.setIntraOpNumThreads(settings.intraOpThreads());
        }
        if (settings.interOpThreads() > 0) {
            options.setInterOpNumThreads(settings.interOpThreads());
        }
        if (settings.cudaDevice() >= 0) {
            options.addCUDA(settings.cudaDevice());
        }
        options.setOptimizationLevel(switch (settings.optimizationLevel()) {
            case NONE -> OrtSession.SessionOptions.OptLevel.NO_OPT;
            case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
            case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
            case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
        });
        return options;
    }
}
