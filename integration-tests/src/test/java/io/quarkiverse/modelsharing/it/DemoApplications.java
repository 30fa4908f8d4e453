package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Processes of the packaged demo application for the *IT tests, with their output in target/. */
final class DemoApplications {

    static final Path APPLICATION = Path.of("target", "quarkus-app", "quarkus-run.jar").toAbsolutePath();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    private DemoApplications() {
    }

    /** Where the output of the process named {@code name} goes. */
    static Path log(String name) {
        return Path.of("target", name + ".log");
    }

    /** The command of a JVM like the tests' own, with the given arguments. */
    static List<String> javaCommand(List<String> args) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-DDJL_CACHE_DIR=" + Path.of("target", "djl-cache").toAbsolutePath()));
        command.addAll(args);
        return command;
    }

    /** A JVM like the tests' own, with the given arguments, its output in {@link #log(String)}. */
    static Process java(String name, List<String> args) throws IOException {
        return new ProcessBuilder(javaCommand(args)).redirectErrorStream(true).redirectOutput(log(name).toFile()).start();
    }

    /** The demo application on {@code port}, with extra system properties before {@code -jar}. */
    static Process application(String name, int port, List<String> properties) throws IOException {
        List<String> args = new ArrayList<>(properties);
        args.add("-Dquarkus.http.port=" + port);
        args.addAll(List.of("-jar", APPLICATION.toString()));
        return java(name, args);
    }

    /** Waits until the application on {@code port} is ready and its readiness report mentions {@code expected}. */
    static void awaitReady(int port, String expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> ready = HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                        + "/q/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
                if (ready.statusCode() == 200) {
                    assertTrue(ready.body().contains(expected), ready.body());
                    return;
                }
            } catch (IOException starting) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the application on port " + port + " did not become ready");
    }

    /** POSTs JSON and gives the response. */
    static HttpResponse<String> post(int port, String path, String json) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Stops a process this test started: SIGTERM, then SIGKILL if it has not ended in 20 s. */
    static void stop(Process process) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
