package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import ai.onnxruntime.OrtEnvironment;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.it.Embedder;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.registry.ModelRegistry;

/**
 * Resident memory of 8 callers on one model: 8 handles to one registry-loaded copy (what 8 {@code @Model}
 * injection points share) against 8 private ONNX Runtime sessions of the same model, each in a fresh JVM, each
 * caller on its own thread embedding a sentence. Prints both and the ratio.
 */
public final class MemoryHarness {

    static final int CALLERS = 8;
    static final String MODEL = "all-minilm-l6-v2-q.onnx";

    private MemoryHarness() {
    }

    /** Runs both scenarios in child JVMs and returns {shared, private} resident kilobytes above the JVM's baseline. */
    static long[] measure() throws Exception {
        return new long[] { child("shared"), child("private") };
    }

    private static long child(String mode) throws Exception {
        List<String> command = List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-DDJL_CACHE_DIR=" + System.getProperty("DJL_CACHE_DIR", "benchmarks/target/djl-cache"),
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-cp", System.getProperty("java.class.path"),
                MemoryHarness.class.getName(), mode);
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(process.getInputStream().readAllBytes()).trim();
        if (process.waitFor() != 0) {
            throw new IllegalStateException("the " + mode + " child failed: " + output);
        }
        String[] lines = output.split("\n");
        return Long.parseLong(lines[lines.length - 1].trim());
    }

    /** In a child JVM: load the model the given way, run 8 callers, print resident KiB gained. */
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        // Warm the JVM's own machinery (ONNX Runtime's library, the tokenizer) before the baseline reading.
        OrtEnvironment.getEnvironment();
        System.gc();
        long before = residentKiB();
        List<AutoCloseable> resources = new ArrayList<>();
        List<InferenceModel> models = new ArrayList<>();
        ClassLoader loader = MemoryHarness.class.getClassLoader();
        if (mode.equals("shared")) {
            ModelRegistry registry = ModelRegistry.builder().build();
            registry.register("minilm", OnnxModelLoader.of("minilm", ModelSource.classpath(MODEL, loader)));
            resources.add(registry);
            for (int i = 0; i < CALLERS; i++) {
                models.add(new RegistryInferenceModel(registry, "minilm"));
            }
        } else {
            byte[] bytes = ModelSource.classpath(MODEL, loader).readAllBytes();
            for (int i = 0; i < CALLERS; i++) {
                ModelRegistry own = ModelRegistry.builder().build();
                own.register("minilm", OnnxModelLoader.of("minilm", ModelSource.bytes("private copy " + i, bytes)));
                resources.add(own);
                models.add(new RegistryInferenceModel(own, "minilm"));
            }
        }
        CountDownLatch done = new CountDownLatch(CALLERS);
        for (InferenceModel model : models) {
            Thread.ofPlatform().start(() -> {
                Embedder embedder = EmbeddingThroughputBenchmark.embedder(model);
                for (int i = 0; i < 20; i++) {
                    embedder.embed(EmbeddingThroughputBenchmark.SENTENCE);
                }
                done.countDown();
            });
        }
        done.await();
        System.gc();
        long after = residentKiB();
        System.out.println(after - before);
        for (AutoCloseable resource : resources) {
            resource.close();
        }
    }

    static long residentKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
