package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerClient;

/**
 * A client of a worker in a JVM of its own, well-behaved or not; what it saw goes to stdout, one line each.
 *
 * <ul>
 * <li>{@code client <socket> <pool bytes> exit|hold}: runs the affine model on a tensor in its own memfd pool, prints
 * {@code pool <id>} and {@code ok}, then exits without closing anything, or prints {@code ready} and waits to be
 * killed.</li>
 * <li>{@code shrink <socket>}: after the worker mapped its pool, tries to truncate it, then runs again.</li>
 * <li>{@code named <socket> <root>}: allocates in a named pool file, runs, truncates and deletes that file, runs
 * again.</li>
 * <li>{@code unsealed|file|lie|unshared <socket>}: speaks the protocol by hand and sends a pool the worker must refuse
 * (an unsealed memfd, a regular file, a memfd smaller than announced) or a descriptor of a pool it never sent; prints
 * what the worker answered.</li>
 * </ul>
 */
public final class PeerChild {

    private PeerChild() {
    }

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[1]);
        switch (args[0]) {
            case "client" -> client(socket, Long.parseLong(args[2]), args[3].equals("hold"));
            case "shrink" -> shrink(socket);
            case "named" -> named(socket, Path.of(args[2]));
            case "attack" -> Attacker.attack(socket, args[2]);
            default -> hostile(args[0], socket);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0); // no shutdown hook, no close: as a crash would leave it
    }

    private static void client(Path socket, long poolBytes, boolean hold) throws Exception {
        SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of("/dev/shm"), poolBytes, poolBytes,
                Duration.ofSeconds(1)));
        WorkerClient client;
        try {
            client = WorkerClient.connect(socket, pool, "peer-child");
        } catch (io.quarkiverse.modelsharing.worker.WorkerException e) {
            System.out.println("refused: " + e.getMessage());
            return;
        }
        Tensor x = pool.allocate(DType.F32, 1, 4);
        x.copyFrom(new float[] { 1, 2, 3, 4 });
        InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30));
        check(result);
        System.out.println("pool " + pool.describe(x).poolId());
        System.out.println("ok");
        if (hold) {
            System.out.println("ready");
            System.out.flush();
            Thread.sleep(Duration.ofMinutes(5));
        }
    }

    private static void shrink(Path socket) throws Exception {
        SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of("/dev/shm"), 1 << 20, 1 << 20,
                Duration.ofSeconds(1)));
        try (WorkerClient client = WorkerClient.connect(socket, pool, "shrinker");
                Tensor x = pool.allocate(DType.F32, 1, 4)) {
            x.copyFrom(new float[] { 1, 2, 3, 4 });
            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                check(result);
            }
            String poolId = pool.describe(x).poolId();
            Path fd = memfd(poolId);
            for (long size : new long[] { 0, 4096 }) {
                try (FileChannel file = FileChannel.open(fd, StandardOpenOption.WRITE)) {
                    file.truncate(size);
                    System.out.println("truncated to " + size + ": the seal did not hold");
                } catch (IOException e) {
                    System.out.println("truncate to " + size + " refused: " + e.getMessage());
                }
            }
            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                check(result);
                System.out.println("served after the attempt");
            }
        }
    }

    private static void named(Path socket, Path root) throws Exception {
        SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(root, 1 << 20, 4 << 20,
                Duration.ofSeconds(1), true));
        Tensor x = pool.allocate(DType.F32, 1, 4); // never closed: its file goes away under it
        try (WorkerClient client = WorkerClient.connect(socket, pool, "named")) {
            x.copyFrom(new float[] { 1, 2, 3, 4 });
            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                check(result);
            }
            Path file = pool.directory().resolve("pool-" + pool.describe(x).poolId() + ".shm");
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(0);
            }
            Files.delete(file);
            System.out.println("truncated and deleted " + file);
            // x is gone with its file (reading it here would fault in this process): send a fresh tensor
            try (Tensor fresh = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4);
                    InferenceResult result = client.infer("affine", Map.of("x", fresh), Duration.ofSeconds(30))) {
                check(result);
                System.out.println("served after the attempt");
            }
        }
    }

    /** Sends a pool the worker must refuse, or names a pool never sent, and prints the answer. */
    private static void hostile(String mode, Path socket) throws Exception {
        try (FrameChannel channel = new FrameChannel(UnixSocket.connect(socket), new FrameCodec())) {
            channel.write(new Frame.Hello(0, FrameCodec.VERSION, Frame.SHARED_MEMORY | Frame.INLINE_TENSORS, mode));
            System.out.println("welcome " + (channel.read() instanceof Frame.Welcome));
            String poolId = "0123456789abcdef0123456789abcdef";
            long bytes = 1 << 20;
            int fd = switch (mode) {
                case "unsealed" -> sized(Libc.memfdCreate("attacker"), bytes);
                case "lie" -> {
                    int sealed = sized(Libc.memfdCreate("attacker"), 4096);
                    Libc.addSeals(sealed, Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW);
                    yield sealed;
                }
                case "file" -> {
                    Path file = Files.createTempFile(Path.of("target"), "attacker", ".bin");
                    try (FileChannel channel2 = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        channel2.write(java.nio.ByteBuffer.allocate((int) bytes));
                    }
                    int opened = Libc.open(file, Libc.O_RDWR, 0);
                    Files.delete(file);
                    yield opened;
                }
                default -> -1; // unshared: no pool at all
            };
            if (fd >= 0) {
                channel.write(new Frame.SharePool(0, poolId, bytes, fd));
                Libc.close(fd);
            }
            TensorDescriptor input = new TensorDescriptor(poolId, 1, 64, 0, 16, DType.F32, new long[] { 1, 4 }, true);
            try {
                channel.write(new Frame.Infer(7, "affine", 10_000, List.of(new WireTensor.Shared("x", input))));
            } catch (IOException e) {
                // the worker may have hung up already; what it said before is still to be read
            }
            try {
                for (;;) {
                    Frame answer = channel.read();
                    System.out.println("answer " + (answer instanceof Frame.Error error
                            ? error.code() + " " + error.message()
                            : answer));
                    if (answer.requestId() == 7) {
                        return;
                    }
                }
            } catch (IOException e) {
                System.out.println("closed");
            }
        }
    }

    private static int sized(int fd, long bytes) {
        if (Libc.fallocate(fd, bytes) != 0) {
            throw new IllegalStateException("fallocate failed");
        }
        return fd;
    }

    /** This process's descriptor of its memfd pool, found by the name the pool gave it. */
    private static Path memfd(String poolId) throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith("/memfd:qms-pool-" + poolId)) {
                        return fd;
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        throw new IllegalStateException("no descriptor of pool " + poolId);
    }

    private static void check(InferenceResult result) {
        float[] expected = TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS);
        float[] got = result.get("y").toFloatArray();
        if (!Arrays.equals(expected, got)) {
            throw new IllegalStateException("wrong answer " + Arrays.toString(got));
        }
    }

    /** A command line that runs this class in a JVM with the test class path. */
    public static ProcessBuilder command(String... args) {
        return java(PeerChild.class.getName(), args);
    }

    /**
     * A command line that runs this class as another user and group (numbers), with {@code classpath} (which that user
     * can read).
     */
    public static ProcessBuilder commandAs(long uid, long gid, String classpath, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid,
                "--clear-groups", ProcessHandle.current().info().command().orElse("java"),
                // no /tmp/hsperfdata_<user> of the other user left behind
                "--enable-native-access=ALL-UNNAMED", "-XX:-UsePerfData", "-cp", classpath, PeerChild.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
    }

    /** A worker daemon in a JVM of its own, listening; closing it kills it (SIGKILL) and waits for it. */
    public record Worker(Process process, Path socket) implements AutoCloseable {

        public long pid() {
            return process.pid();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /**
     * Starts a worker daemon named {@code name} that serves the affine test model from {@code root} on
     * {@code root/<name>.sock}, with {@code jvmOptions} and {@code options}, and returns once it says it listens.
     */
    public static Worker startWorker(Path root, String name, List<String> jvmOptions, String... options)
            throws IOException {
        Path model = root.resolve("affine.onnx");
        if (!Files.exists(model)) {
            Files.write(model, TinyModels.affine());
        }
        Path socket = root.resolve(name + ".sock");
        List<String> command = new java.util.ArrayList<>(worker(socket, model, name).command());
        command.addAll(1, jvmOptions);
        command.addAll(List.of(options));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String said = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream())).readLine();
        if (!("worker " + name + " listening on " + socket).equals(said)) {
            process.destroyForcibly();
            throw new IllegalStateException("the worker said: " + said);
        }
        return new Worker(process, socket);
    }

    /** A command line for a worker daemon serving {@code affine=<model>} on {@code socket}. */
    public static ProcessBuilder worker(Path socket, Path model, String name) {
        return java("io.quarkiverse.modelsharing.worker.WorkerMain", "--socket", socket.toString(), "--model",
                "affine=" + model, "--name", name, "--threads", "2");
    }

    static ProcessBuilder java(String main, String... args) {
        String[] command = new String[args.length + 6];
        command[0] = ProcessHandle.current().info().command().orElse("java");
        command[1] = "--enable-native-access=ALL-UNNAMED";
        command[2] = "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir");
        command[3] = "-cp";
        command[4] = System.getProperty("java.class.path");
        command[5] = main;
        System.arraycopy(args, 0, command, 6, args.length);
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
    }
}
