package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.concat;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.floats;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.sumAndProduct;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;
import io.restassured.http.ContentType;

/**
 * The system shared-memory extension, turned on: clients on the host register regions of their own shared-memory
 * files and name them for inputs and outputs; regions outside their file, of another user, behind a link or shrunk
 * under a request are refused, while the server keeps answering.
 */
class ClientSharedMemoryTest {

    static final String PREFIX = "qms-oip-test-" + ProcessHandle.current().pid() + "-";

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(ProtocolTestData.class)
                    .addAsResource(new ByteArrayAsset(sumAndProduct()), "models/arith.onnx"))
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.allow-client-shm", "true")
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.max-regions", "3")
            .overrideConfigKey("quarkus.model-sharing.models.arith.path", "classpath:models/arith.onnx");

    private final List<Path> files = new ArrayList<>();

    @AfterEach
    void cleanUp() throws IOException {
        given().post("/v2/systemsharedmemory/unregister").then().statusCode(200);
        for (Path file : files) {
            Files.deleteIfExists(file);
        }
    }

    private Path file(String name, byte[] content) throws IOException {
        Path file = Path.of("/dev/shm", PREFIX + name);
        files.add(file);
        return Files.write(file, content);
    }

    private static void register(String region, String key, long offset, long size, int status, String error) {
        var response = given().contentType(ContentType.JSON)
                .body("{\"key\": \"" + key + "\", \"offset\": " + offset + ", \"byte_size\": " + size + "}")
                .post("/v2/systemsharedmemory/region/" + region + "/register").then().statusCode(status);
        if (error != null) {
            response.body("error", containsString(error));
        }
    }

    private static String arithByRegions() {
        return "{\"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"shared_memory_region\": \"in\","
                + " \"shared_memory_byte_size\": 16}},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"shared_memory_region\": \"in\","
                + " \"shared_memory_byte_size\": 16, \"shared_memory_offset\": 16}}],"
                + " \"outputs\": ["
                + "{\"name\": \"sum\", \"parameters\": {\"shared_memory_region\": \"out\", \"shared_memory_byte_size\": 16}},"
                + "{\"name\": \"product\", \"parameters\": {\"shared_memory_region\": \"out\", \"shared_memory_byte_size\": 16,"
                + " \"shared_memory_offset\": 16}}]}";
    }

    @Test
    void registerInferStatusUnregister() throws Exception {
        given().get("/v2").then().statusCode(200).body("extensions", contains("binary_tensor_data", "system_shared_memory"));
        file("in", concat(floats(1, 2, 3, 4),
                floats(10, 20, 30, 40)));
        Path out = file("out", new byte[32]);
        register("in", "/" + PREFIX + "in", 0, 32, 200, null);
        register("out", "/" + PREFIX + "out", 0, 32, 200, null);
        given().get("/v2/systemsharedmemory/status").then().statusCode(200)
                .body("name", contains("in", "out"))
                .body("key", contains("/" + PREFIX + "in", "/" + PREFIX + "out"))
                .body("offset", contains(0, 0))
                .body("byte_size", contains(32, 32));
        given().get("/v2/systemsharedmemory/region/out/status").then().statusCode(200).body("name", contains("out"));

        given().contentType(ContentType.JSON).body(arithByRegions()).post("/v2/models/arith/infer").then().statusCode(200)
                .body("outputs.name", contains("sum", "product"))
                .body("outputs[0].parameters.shared_memory_region", equalTo("out"))
                .body("outputs[0].parameters.shared_memory_byte_size", equalTo(16))
                .body("outputs[1].parameters.shared_memory_offset", equalTo(16))
                .body("outputs[0].data", nullValue());
        assertArrayEquals(concat(floats(11, 22, 33, 44),
                floats(10, 40, 90, 160)), Files.readAllBytes(out),
                "the outputs were written into the client's region");

        register("in", "/" + PREFIX + "in", 0, 32, 400, "Shared-memory region 'in' is already registered");
        given().post("/v2/systemsharedmemory/region/in/unregister").then().statusCode(200);
        given().get("/v2/systemsharedmemory/status").then().statusCode(200).body("name", contains("out"));
        given().contentType(ContentType.JSON).body(arithByRegions()).post("/v2/models/arith/infer").then().statusCode(400)
                .body("error", equalTo("Shared-memory region 'in' is not registered; the regions are [out]"));
        given().post("/v2/systemsharedmemory/unregister").then().statusCode(200);
        given().get("/v2/systemsharedmemory/status").then().statusCode(200).body("$", empty());
    }

    @Test
    void regionsOutsideTheirFileOrOfAnotherUserOrBehindALinkAreRefused() throws Exception {
        file("small", new byte[32]);
        register("r", "/" + PREFIX + "small", 16, 32, 400, "bytes 16 to 48 are outside /dev/shm/" + PREFIX
                + "small, which holds 32 bytes");
        register("r", "/" + PREFIX + "missing", 0, 8, 400, "cannot be opened (errno 2, no such file)");
        register("r", "/../etc/passwd", 0, 8, 400, "key '/../etc/passwd' is not a shared-memory name");
        register("r", "/..", 0, 8, 400, "is not a shared-memory name");
        Path link = Path.of("/dev/shm", PREFIX + "link");
        files.add(link);
        Files.createSymbolicLink(link, Path.of("/dev/shm", PREFIX + "small"));
        register("r", "/" + PREFIX + "link", 0, 8, 400, "a symbolic link, which is never followed");
        Path foreign = file("foreign", new byte[32]);
        run("chown", "65534", foreign.toString()); // another user's file, given away by a separate process
        register("r", "/" + PREFIX + "foreign", 0, 8, 400, "belongs to uid 65534, not to this server's user (uid 0)");
        register("r", "/" + PREFIX + "small", 0, 0, 400, "do not make a region");
        given().contentType(ContentType.JSON).body("{\"key\": 5}").post("/v2/systemsharedmemory/region/r/register")
                .then().statusCode(400).body("error", equalTo("Registering region 'r' needs a string 'key' and a"
                        + " 'byte_size'"));
        given().get("/v2/systemsharedmemory/status").then().statusCode(200).body("$", empty());
    }

    @Test
    void aRegionShrunkUnderTheServerGivesAnErrorAndTheServerGoesOn() throws Exception {
        Path in = file("in", new byte[32]);
        file("out", new byte[32]);
        register("in", "/" + PREFIX + "in", 0, 32, 200, null);
        register("out", "/" + PREFIX + "out", 0, 32, 200, null);
        run("truncate", "-s", "8", in.toString()); // a separate process shrinks the client's file after registering
        given().contentType(ContentType.JSON).body(arithByRegions()).post("/v2/models/arith/infer").then().statusCode(400)
                .body("error", startsWith("The input 'a': Region 'in': bytes 0 to 32 are outside " + "/" + PREFIX
                        + "in, which holds 8 bytes"));
        given().contentType(ContentType.JSON).body("{\"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 1, 1, 1]}]}")
                .post("/v2/models/arith/infer").then().statusCode(200).body("outputs[0].data", contains(2f, 3f, 4f, 5f));
        // a region too small for an output it is given
        given().contentType(ContentType.JSON).body("{\"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 1, 1, 1]}],"
                + " \"outputs\": [{\"name\": \"sum\", \"parameters\": {\"shared_memory_region\": \"out\","
                + " \"shared_memory_byte_size\": 8}}]}")
                .post("/v2/models/arith/infer").then().statusCode(400)
                .body("error", equalTo("Output 'sum' is 16 bytes, more than the 8 bytes of region 'out' it was given"));
    }

    @Test
    void theNumberOfRegionsIsBounded() throws Exception {
        for (int i = 0; i < 3; i++) {
            file("r" + i, new byte[8]);
            register("r" + i, "/" + PREFIX + "r" + i, 0, 8, 200, null);
        }
        file("r3", new byte[8]);
        register("r3", "/" + PREFIX + "r3", 0, 8, 400, "Already 3 shared-memory regions are registered"
                + " (inference-protocol.max-regions): unregister some first");
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).inheritIO().start();
        assertEquals(0, process.waitFor(), String.join(" ", command));
    }
}
