package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.concat;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.floats;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.sumAndProduct;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.test.QuarkusUnitTest;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A hostile client in another process (oip-attacker.py, over raw sockets) sends garbage, truncated and stalled bodies,
 * lying lengths, deep nesting, huge shape claims, duplicates and region storms, and is SIGKILLed with a region
 * registered and a request half-sent; meanwhile a well-behaved client sends JSON, binary and shared-memory requests
 * and checks every answer. The server stays up, answers the good client rightly, gives every tensor back to its
 * small shared-memory quota and keeps no descriptor of the attacker's files once its regions are unregistered.
 */
class InferenceProtocolAttackTest {

    static final String PREFIX = "qms-attack-" + ProcessHandle.current().pid() + "-";
    static final Path SHM = Path.of("/dev/shm");

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(ProtocolTestData.class)
                    .addAsResource(new ByteArrayAsset(sumAndProduct()), "models/arith.onnx"))
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.allow-client-shm", "true")
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.max-regions", "8")
            .overrideConfigKey("quarkus.model-sharing.shared-memory.pool-file-size", "4M")
            .overrideConfigKey("quarkus.model-sharing.shared-memory.max-size", "16M")
            .overrideConfigKey("quarkus.http.limits.max-body-size", "4M")
            .overrideConfigKey("quarkus.model-sharing.models.arith.path", "classpath:models/arith.onnx");

    @Inject
    TensorAllocator allocator;

    @AfterEach
    void cleanUp() throws IOException {
        given().post("/v2/systemsharedmemory/unregister").then().statusCode(200);
        try (Stream<Path> files = Files.list(SHM)) {
            for (Path file : files.filter(f -> f.getFileName().toString().startsWith(PREFIX)).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    @Test
    void theServerOutlivesAHostileClientAndAnswersAGoodOneRightly() throws Exception {
        Path script = Path.of("src/test/resources/oip-attacker.py").toAbsolutePath();
        Process attacker = new ProcessBuilder("python3", script.toString(), String.valueOf(RestAssured.port),
                SHM.toString(), PREFIX, "3").redirectErrorStream(true).start();
        List<String> violations = Collections.synchronizedList(new ArrayList<>());
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch stalled = new CountDownLatch(1);
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(attacker.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null;) {
                    output.add(line);
                    if (line.startsWith("VIOLATION")) {
                        violations.add(line);
                    } else if (line.equals("STALLED")) {
                        stalled.countDown();
                    }
                }
            } catch (IOException e) {
                output.add("reading the attacker failed: " + e);
            }
            stalled.countDown();
        });
        AtomicBoolean attacking = new AtomicBoolean(true);
        AtomicLong goodAnswers = new AtomicLong();
        List<Throwable> wrong = Collections.synchronizedList(new ArrayList<>());
        Path goodRegion = Files.write(SHM.resolve(PREFIX + "good"), new byte[64]);
        register("good", "/" + goodRegion.getFileName(), 64);
        List<Thread> good = new ArrayList<>();
        for (int client = 0; client < 3; client++) {
            int kind = client;
            good.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; attacking.get() && wrong.isEmpty(); i++) {
                    try {
                        switch (kind) {
                            case 0 -> json(i);
                            case 1 -> binary(i);
                            default -> byRegion(goodRegion, i);
                        }
                        goodAnswers.incrementAndGet();
                    } catch (Throwable e) {
                        wrong.add(e);
                    }
                }
            }));
        }
        try {
            assertTrue(stalled.await(10, TimeUnit.MINUTES), "the attacker reached its stall: " + output);
            assertTrue(attacker.isAlive(), "the attacker holds a request half-sent when killed: " + output);
            attacker.destroyForcibly();
            attacker.waitFor();
        } finally {
            attacking.set(false);
            for (Thread thread : good) {
                thread.join();
            }
            if (attacker.isAlive()) {
                attacker.destroyForcibly().waitFor();
            }
            reader.join();
        }
        if (!wrong.isEmpty()) {
            throw new AssertionError("a good request got a wrong answer during the attack", wrong.get(0));
        }
        assertEquals(List.of(), violations, "every hostile request got a 4xx {\"error\": ...}");
        assertTrue(goodAnswers.get() > 0, "the good clients were answered during the attack");
        // after the attacker's death: the server still answers every kind of good request
        json(7);
        binary(8);
        byRegion(goodRegion, 9);
        given().post("/v2/systemsharedmemory/unregister").then().statusCode(200);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (openFilesOfTheTest() > 0 || usedBytes() > 0) {
            if (System.nanoTime() > deadline) {
                fail(openFilesOfTheTest() + " descriptors of the test's files are open and " + usedBytes()
                        + " bytes of shared memory are used once every region is unregistered");
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private long usedBytes() {
        return allocator instanceof SharedMemoryPool pool ? pool.usedBytes() : 0;
    }

    private static long openFilesOfTheTest() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().contains(PREFIX);
                } catch (IOException gone) {
                    return false;
                }
            }).count();
        }
    }

    private static void register(String region, String key, long size) {
        given().contentType(ContentType.JSON)
                .body("{\"key\": \"" + key + "\", \"offset\": 0, \"byte_size\": " + size + "}")
                .post("/v2/systemsharedmemory/region/" + region + "/register").then().statusCode(200);
    }

    private static float[] a(int i) {
        return new float[] { i, 1, -2, 0.5f };
    }

    private static float[] b(int i) {
        return new float[] { 3, i, 4, -8 };
    }

    private static List<Double> sum(int i) {
        float[] a = a(i);
        float[] b = b(i);
        List<Double> sum = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            sum.add((double) (a[k] + b[k]));
        }
        return sum;
    }

    private static String data(float[] values) {
        StringBuilder text = new StringBuilder("[");
        for (float value : values) {
            text.append(text.length() > 1 ? ", " : "").append(value);
        }
        return text.append("]").toString();
    }

    private static void json(int i) {
        String body = "{\"id\": \"good-" + i + "\", \"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": " + data(a(i)) + "},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": " + data(b(i)) + "}],"
                + " \"outputs\": [{\"name\": \"sum\"}]}";
        Response response = given().contentType(ContentType.JSON).body(body).post("/v2/models/arith/infer");
        assertEquals(200, response.statusCode(), response.asString());
        JsonObject answer = new JsonObject(response.asString());
        assertEquals("good-" + i, answer.getString("id"));
        assertEquals(1, answer.getJsonArray("outputs").size());
        assertEquals(new JsonArray(new ArrayList<>(sum(i))),
                answer.getJsonArray("outputs").getJsonObject(0).getJsonArray("data"));
    }

    private static void binary(int i) {
        String header = "{\"parameters\": {\"binary_data_output\": true}, \"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 16}},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 16}}],"
                + " \"outputs\": [{\"name\": \"sum\"}]}";
        Response response = given().contentType("application/octet-stream")
                .header("Inference-Header-Content-Length", header.length())
                .body(concat(header, concat(floats(a(i)), floats(b(i))))).post("/v2/models/arith/infer");
        assertEquals(200, response.statusCode(), response.asString());
        byte[] body = response.asByteArray();
        int length = Integer.parseInt(response.header("Inference-Header-Content-Length"));
        JsonObject answer = new JsonObject(new String(body, 0, length, StandardCharsets.UTF_8));
        assertEquals(16, answer.getJsonArray("outputs").getJsonObject(0).getJsonObject("parameters")
                .getInteger("binary_data_size"));
        float[] expected = new float[4];
        for (int k = 0; k < 4; k++) {
            expected[k] = sum(i).get(k).floatValue();
        }
        assertArrayEquals(floats(expected), Arrays.copyOfRange(body, length, body.length));
    }

    /** Inputs at bytes 0 and 16 of the good client's region, the sum written at 32. */
    private static void byRegion(Path region, int i) throws IOException {
        byte[] content = new byte[64];
        System.arraycopy(floats(a(i)), 0, content, 0, 16);
        System.arraycopy(floats(b(i)), 0, content, 16, 16);
        Files.write(region, content);
        String body = "{\"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"shared_memory_region\":"
                + " \"good\", \"shared_memory_byte_size\": 16}},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"shared_memory_region\":"
                + " \"good\", \"shared_memory_byte_size\": 16, \"shared_memory_offset\": 16}}],"
                + " \"outputs\": [{\"name\": \"sum\", \"parameters\": {\"shared_memory_region\": \"good\","
                + " \"shared_memory_byte_size\": 16, \"shared_memory_offset\": 32}}]}";
        Response response = given().contentType(ContentType.JSON).body(body).post("/v2/models/arith/infer");
        assertEquals(200, response.statusCode(), response.asString());
        float[] expected = new float[4];
        for (int k = 0; k < 4; k++) {
            expected[k] = sum(i).get(k).floatValue();
        }
        assertArrayEquals(floats(expected), Arrays.copyOfRange(Files.readAllBytes(region), 32, 48));
    }
}
