package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * One inference of a large tensor over the Open Inference Protocol, end to end: the packaged demo application
 * ({@code integration-tests}) serves its model {@code scale} (y = 2x, FP32 of shape [n], almost free to run), and this
 * JVM calls it with JSON tensors, with binary tensor data and through two registered shared-memory regions
 * ({@link ProtocolClient}), beside the same model file run in this JVM on an off-heap tensor.
 * <p>
 * Every call goes from the input as a {@code float[]} to the output as a new {@code float[]}: the client's encoding
 * and decoding (JSON text, copies into and out of a body, or its writes and reads of the region files) are in the
 * time. For each size, each way warms up and makes its measured calls after a {@code System.gc()} here; every
 * answer is checked element by element (y = 2x exactly) after its timer stops. The figures are the median and the
 * p90 (nearest rank) of the measured calls. The smallest size, one float, is the floor under any call: HTTP on
 * loopback and the server's dispatch.
 */
final class ProtocolHarness {

    static final Path DEMO = Path.of(System.getProperty("benchmarks.demo",
            "integration-tests/target/quarkus-app/quarkus-run.jar"));
    static final String MODEL = "scale";
    /** Sizes in bytes of FP32, with their warm-up and measured calls per way. */
    static final List<Size> SIZES = List.of(new Size(Float.BYTES, 10, 30), new Size(1 << 20, 10, 30),
            new Size(64 << 20, 1, 5));
    static final String JSON = "ours: JSON tensors";
    static final String BINARY = "ours: binary tensor data";
    static final String SHM = "ours: shared-memory regions";
    static final String IN_PROCESS = "in process";
    static final List<String> WAYS = List.of(JSON, BINARY, SHM, IN_PROCESS);

    record Size(int bytes, int warmUps, int calls) {
        int elements() {
            return bytes / Float.BYTES;
        }

        String label() {
            return bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : bytes >= 1 << 10 ? (bytes >> 10) + " KiB" : bytes + " B";
        }
    }

    /** A call from an input array to a new output array. */
    @FunctionalInterface
    interface Call {
        float[] run(float[] x) throws Exception;
    }

    private ProtocolHarness() {
    }

    /** Runs every size and way, adds the points to {@code data}, and returns the report's lines. */
    static String measure(BenchmarkData data, Path log) throws Exception {
        if (!Files.isRegularFile(DEMO)) {
            throw new IllegalStateException(DEMO.toAbsolutePath() + " does not exist: build the demo first (./mvnw"
                    + " install -DskipTests), or name its quarkus-run.jar with -Dbenchmarks.demo");
        }
        int port = freePort();
        Files.createDirectories(log.toAbsolutePath().getParent());
        // JSON of 64 MiB of floats is about three times as long as the tensor: the default body limit (10 MiB) would
        // refuse it.
        Process demo = ChildJvm.startApplication(DEMO, List.of("-Dquarkus.http.port=" + port,
                "-Dquarkus.http.limits.max-body-size=300M",
                "-Dquarkus.model-sharing.inference-protocol.allow-client-shm=true"), log);
        StringBuilder report = new StringBuilder();
        try {
            ProtocolClient client = new ProtocolClient(port, MODEL);
            awaitReady(demo, client, log);
            long largest = SIZES.stream().mapToLong(Size::bytes).max().orElseThrow();
            try (ProtocolClient.Regions regions = new ProtocolClient.Regions(client, largest);
                    OnnxModel model = OnnxModelLoader.of(MODEL, ModelSource.parse("classpath:" + MODEL + ".onnx",
                            ProtocolHarness.class.getClassLoader())).load()) {
                report.append(String.format(Locale.ROOT, "Open Inference Protocol: one inference of the demo's model"
                        + " '%s' (y = 2x, FP32 [n]) from a float[] to a new float[], over HTTP/1.1 to the packaged"
                        + " demo on this host,%n   beside the same model file in this JVM on an off-heap tensor;"
                        + " median and p90 of the measured calls:%n", MODEL));
                for (Size size : SIZES) {
                    report.append(size(size, client, regions, model, data));
                }
            }
        } finally {
            stop(demo);
        }
        return report.toString();
    }

    private static String size(Size size, ProtocolClient client, ProtocolClient.Regions regions, OnnxModel model,
            BenchmarkData data) throws Exception {
        int n = size.elements();
        float[] x = new float[n];
        SplittableRandom random = new SplittableRandom(13);
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextDouble(-1, 1);
        }
        long[] bodies = new long[4];
        long[][] nanos = new long[WAYS.size()][size.calls()];
        long[][] inClient = new long[WAYS.size()][size.calls()];
        try (Tensor input = Tensor.allocate(DType.F32, n)) {
            List<Call> calls = List.of(client::inferJson, client::inferBinary,
                    v -> client.inferThroughRegions(regions, v), v -> inProcess(model, input, v));
            // One way after the other, JSON last: the garbage of a JSON call (hundreds of megabytes at 64 MiB, in
            // both JVMs) is then collected within JSON's own calls, not in the next way's.
            for (int way = WAYS.size() - 1; way >= 0; way--) {
                String name = WAYS.get(way);
                for (int i = 0; i < size.warmUps(); i++) {
                    check(name, size, x, calls.get(way).run(x));
                }
                if (way < 2) {
                    bodies[way * 2] = client.requestBytes();
                    bodies[way * 2 + 1] = client.responseBytes();
                }
                // The measured calls start on a clean heap here and pay for their own garbage. Not before each call:
                // a JVM just collected runs a small call several times slower (1.2 ms in place of microseconds).
                System.gc();
                for (int call = 0; call < size.calls(); call++) {
                    if (name.equals(SHM)) {
                        // An output region still holding the last answer would hide a call that wrote nothing.
                        regions.output.asSlice(0, size.bytes()).fill((byte) 0xFF);
                    }
                    long start = System.nanoTime();
                    float[] y = calls.get(way).run(x);
                    nanos[way][call] = System.nanoTime() - start;
                    inClient[way][call] = name.equals(IN_PROCESS) ? 0 : client.clientNanos();
                    check(name, size, x, y);
                }
            }
            return report(size, nanos, inClient, bodies, data);
        }
    }

    /** The baseline: the input written into an off-heap tensor, the model run in this JVM, the output copied out. */
    private static float[] inProcess(OnnxModel model, Tensor input, float[] x) {
        input.copyFrom(x);
        try (InferenceResult result = model.run(Map.of("x", input))) {
            return result.get("y").toFloatArray();
        }
    }

    private static void check(String way, Size size, float[] x, float[] y) {
        if (y.length != x.length) {
            throw new IllegalStateException(way + ", " + size.label() + ": " + y.length + " outputs for " + x.length
                    + " inputs");
        }
        for (int i = 0; i < x.length; i++) {
            if (Float.floatToRawIntBits(y[i]) != Float.floatToRawIntBits(2 * x[i])) {
                throw new IllegalStateException(way + ", " + size.label() + ": y[" + i + "] is " + y[i] + ", not 2 * "
                        + x[i]);
            }
        }
    }

    private static String report(Size size, long[][] nanos, long[][] inClient, long[] bodies, BenchmarkData data) {
        StringBuilder report = new StringBuilder(String.format(Locale.ROOT, "   %s of FP32 (%,d elements), %d warm-up and %d"
                + " measured calls per way (p90: nearest rank); 'client': the part of a call spent in the client's"
                + " encoding, copies or region writes and reads, p50:%n", size.label(), size.elements(), size.warmUps(),
                size.calls()));
        double[][] figures = new double[WAYS.size()][];
        for (int way = 0; way < WAYS.size(); way++) {
            long[] sorted = nanos[way].clone();
            Arrays.sort(sorted);
            long[] client = inClient[way].clone();
            Arrays.sort(client);
            figures[way] = new double[] { TextHarness.percentile(sorted, 50) / 1e6, TextHarness.percentile(sorted, 90) / 1e6,
                    TextHarness.percentile(client, 50) / 1e6 };
            data.add("protocol", WAYS.get(way), Integer.toString(size.bytes()), figures[way][0], "ms");
            data.add("protocol-p90", WAYS.get(way), Integer.toString(size.bytes()), figures[way][1], "ms");
            if (!WAYS.get(way).equals(IN_PROCESS)) {
                data.add("protocol-client", WAYS.get(way), Integer.toString(size.bytes()), figures[way][2], "ms");
            }
        }
        double[] base = figures[WAYS.indexOf(IN_PROCESS)];
        for (int way = 0; way < WAYS.size(); way++) {
            report.append(String.format(Locale.ROOT, "   %-7s %-28s p50 %10.2f ms   p90 %10.2f ms   %s%n", size.label(),
                    WAYS.get(way), figures[way][0], figures[way][1], way == WAYS.indexOf(IN_PROCESS) ? "(baseline)"
                            : String.format(Locale.ROOT, "%.1fx in process (p50), %.1fx (p90); client %.2f ms",
                                    figures[way][0] / base[0], figures[way][1] / base[1], figures[way][2])));
        }
        report.append(String.format(Locale.ROOT, "   %-7s bodies: JSON %s in, %s out; binary %s in, %s out (the tensor:"
                + " %s)%n", size.label(), megabytes(bodies[0]), megabytes(bodies[1]), megabytes(bodies[2]),
                megabytes(bodies[3]), megabytes(size.bytes())));
        return report.toString();
    }

    private static String megabytes(long bytes) {
        return String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
    }

    /** Waits until the demo is ready (its eager model loaded), or fails if it exits or takes over two minutes. */
    private static void awaitReady(Process demo, ProtocolClient client, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (client.status("/q/health/ready") != 200) {
            if (!demo.isAlive()) {
                throw new IllegalStateException("The demo exited with " + demo.exitValue() + " before it was ready;"
                        + " its output is in " + log);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("The demo was not ready within 2 minutes; its output is in " + log);
            }
            Thread.sleep(200);
        }
    }

    private static void stop(Process demo) throws InterruptedException {
        demo.destroy();
        if (!demo.waitFor(30, TimeUnit.SECONDS)) {
            demo.destroyForcibly();
            demo.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
