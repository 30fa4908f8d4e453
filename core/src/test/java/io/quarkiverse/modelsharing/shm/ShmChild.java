package io.quarkiverse.modelsharing.shm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/** The other process in the cross-process tests: a separate JVM started with the test class path. */
public final class ShmChild {

    private ShmChild() {
    }

    /**
     * {@code read <root> <descriptor hex>}: prints the sum of the F32 tensor the descriptor names.
     * {@code hold <root>}: allocates a tensor in two pool files, prints "ready", and waits to be killed.
     */
    public static void main(String[] args) throws Exception {
        SharedMemorySettings settings = new SharedMemorySettings(Path.of(args[1]), 1 << 20, 8 << 20, Duration.ofSeconds(1),
                true);
        try (SharedMemoryPool pool = SharedMemoryPool.open(settings)) {
            if (args[0].equals("read")) {
                try (Tensor t = pool.open(TensorDescriptor.decode(HexFormat.of().parseHex(args[2])))) {
                    double sum = 0;
                    for (long i = 0; i < t.elementCount(); i++) {
                        sum += t.getFloat(i);
                    }
                    System.out.println(sum);
                }
            } else if (args[0].equals("serve")) {
                Tensor t = pool.allocate(DType.F32, 1000);
                for (int i = 0; i < 1000; i++) {
                    t.setFloat(i, Float.parseFloat(args[2]));
                }
                System.out.println(HexFormat.of().formatHex(pool.describe(t).encode()));
                System.out.flush();
                Thread.sleep(Duration.ofMinutes(5));
            } else {
                Tensor a = pool.allocate(DType.F32, 200_000);
                Tensor b = pool.allocate(DType.F32, 200_000);
                System.out.println("ready " + a.elementCount() + b.elementCount());
                System.out.flush();
                Thread.sleep(Duration.ofMinutes(5));
            }
        }
    }

    static ProcessBuilder command(String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        String[] command = new String[args.length + 6];
        command[0] = java;
        command[1] = "--enable-native-access=ALL-UNNAMED";
        command[2] = "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir");
        command[3] = "-cp";
        command[4] = System.getProperty("java.class.path");
        command[5] = ShmChild.class.getName();
        System.arraycopy(args, 0, command, 6, args.length);
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
    }
}
