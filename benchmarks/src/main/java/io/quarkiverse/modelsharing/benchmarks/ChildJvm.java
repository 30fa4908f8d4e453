package io.quarkiverse.modelsharing.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.quarkiverse.modelsharing.worker.WorkerMain;

/**
 * Starts another JVM on this one's class path (the launcher jar, whose manifest holds it), with native access and
 * this JVM's temporary and DJL cache directories: the workers and clients of the end-to-end harnesses; or, the same
 * way, a packaged application such as the demo.
 */
final class ChildJvm {

    private ChildJvm() {
    }

    static Process start(String mainClass, String... args) throws IOException {
        return start(List.of(), mainClass, args);
    }

    /** With JVM options added after the defaults (a later {@code -Xmx} wins). */
    static Process start(List<String> jvmOptions, String mainClass, String... args) throws IOException {
        List<String> command = java();
        command.add("-Xmx256m");
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /**
     * A packaged application ({@code java -jar}) with the JVM's default heap and {@code properties} ({@code -Dkey=value})
     * on its command line, its output (both streams) written to {@code log}.
     */
    static Process startApplication(Path jar, List<String> properties, Path log) throws IOException {
        List<String> command = java();
        command.addAll(properties);
        command.addAll(List.of("-jar", jar.toString()));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** This JVM's java with native access and this JVM's temporary and DJL cache directories. */
    private static List<String> java() {
        return new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED",
                "-DDJL_CACHE_DIR=" + System.getProperty("DJL_CACHE_DIR", "benchmarks/target/djl-cache"),
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")));
    }

    /** Starts a worker daemon ({@code WorkerMain} with {@code args}) and waits until it says that it listens. */
    static Process startWorker(List<String> jvmOptions, String... args) throws IOException {
        Process worker = start(jvmOptions, WorkerMain.class.getName(), args);
        String line = new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine();
        if (line == null || !line.contains("listening on")) {
            worker.destroyForcibly();
            throw new IllegalStateException("The benchmark's worker did not start: "
                    + (line == null ? "it exited" : "it said " + line));
        }
        return worker;
    }
}
