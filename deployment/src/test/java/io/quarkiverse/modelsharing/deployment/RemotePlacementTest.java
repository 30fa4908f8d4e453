package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.sumAndProduct;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.oip.RemoteInferenceModel;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkus.test.QuarkusUnitTest;
import io.vertx.core.Vertx;

/**
 * {@code placement=remote}: the same {@code @Model InferenceModel} calls an Open Inference Protocol server, here the
 * application's own {@code /v2} endpoints, with binary tensors or JSON, and gives what the model gives in process; a
 * remote that is down, that stalls, or that serves another model gives a clear error within the timeout.
 */
class RemotePlacementTest {

    /**
     * Accepts connections and never answers: a remote server that hangs. Opened before the application starts, in
     * the test's own class loader (the application reloads this class), and found by its port's system property.
     */
    static ServerSocket stalledServer;
    static final List<Socket> STALLED_CONNECTIONS = new ArrayList<>();
    static final String STALLED_PORT = "model-sharing.test.stalled-port";
    /** A port nobody listens on. */
    static final String DOWN_PORT = "model-sharing.test.down-port";
    static final String SELF = "http://localhost:${quarkus.http.test-port:8081}";

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .setBeforeAllCustomizer(RemotePlacementTest::acceptAndStall)
            .setAfterAllCustomizer(RemotePlacementTest::closeStalled)
            .withApplicationRoot(jar -> {
                jar.addClass(ProtocolTestData.class);
                for (DType dtype : ProtocolTestData.RUNNABLE.values()) {
                    jar.addAsResource(new ByteArrayAsset(TinyModels.identity(dtype)), "models/identity_" + dtype + ".onnx");
                }
                jar.addAsResource(new ByteArrayAsset(sumAndProduct()), "models/arith.onnx");
            })
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.models.local.path", "classpath:models/identity_F32.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.arith.path", "classpath:models/arith.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.fp16.path", "classpath:models/identity_F16.onnx")
            // checked against its file, binary tensors
            .overrideConfigKey("quarkus.model-sharing.models.binary.path", "classpath:models/identity_F32.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.binary.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.binary.url", SELF)
            .overrideConfigKey("quarkus.model-sharing.models.binary.remote.name", "local")
            // no file at all, JSON tensors
            .overrideConfigKey("quarkus.model-sharing.models.json.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.json.url", SELF + "/")
            .overrideConfigKey("quarkus.model-sharing.models.json.remote.name", "local")
            .overrideConfigKey("quarkus.model-sharing.models.json.remote.binary", "false")
            // a file that is not the remote's model
            .overrideConfigKey("quarkus.model-sharing.models.wrong.path", "classpath:models/identity_F32.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.wrong.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.wrong.url", SELF)
            .overrideConfigKey("quarkus.model-sharing.models.wrong.remote.name", "arith")
            .overrideConfigKey("quarkus.model-sharing.models.stalled.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.stalled.url", "http://127.0.0.1:${" + STALLED_PORT + "}")
            .overrideConfigKey("quarkus.model-sharing.models.stalled.remote.timeout", "500ms")
            .overrideConfigKey("quarkus.model-sharing.models.down.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.down.url", "http://127.0.0.1:${" + DOWN_PORT + "}");

    static {
        for (DType dtype : ProtocolTestData.RUNNABLE.values()) {
            app.overrideConfigKey("quarkus.model-sharing.models.identity_" + dtype.name().toLowerCase() + ".path",
                    "classpath:models/identity_" + dtype + ".onnx");
        }
    }

    @Inject
    @Model("local")
    InferenceModel local;

    @Inject
    @Model("binary")
    InferenceModel binary;

    @Inject
    @Model("json")
    InferenceModel json;

    @Inject
    @Model("wrong")
    InferenceModel wrong;

    @Inject
    @Model("stalled")
    InferenceModel stalled;

    @Inject
    @Model("down")
    InferenceModel down;

    @Inject
    Vertx vertx;

    @Test
    void remoteCallsGiveWhatTheModelGivesInProcess() {
        Random random = new Random(3);
        for (InferenceModel remote : List.of(binary, json)) {
            assertEquals(local.inputs(), remote.inputs(), remote + " reads the remote's metadata");
            assertEquals(local.outputs(), remote.outputs());
            for (int rows = 1; rows <= 64; rows *= 4) {
                float[] values = new float[rows * 3];
                for (int i = 0; i < values.length; i++) {
                    values[i] = random.nextFloat() * 2e6f - 1e6f;
                }
                try (Tensor x = Tensor.of(values, rows, 3);
                        InferenceResult here = local.run(Map.of("x", x));
                        InferenceResult there = remote.run(Map.of("x", x))) {
                    assertEquals(here.names(), there.names());
                    assertEquals(DType.F32, there.get("y").dtype());
                    assertArrayEquals(here.get("y").shape(), there.get("y").shape());
                    assertArrayEquals(here.get("y").toFloatArray(), there.get("y").toFloatArray(), remote.toString());
                }
            }
        }
    }

    @Test
    void everyRunnableDatatypeCrossesAsBinaryAndAsJson() {
        Random random = new Random(5);
        for (DType dtype : ProtocolTestData.RUNNABLE.values()) {
            for (boolean asBinary : new boolean[] { true, false }) {
                try (RemoteInferenceModel remote = new RemoteInferenceModel("r", new RemoteInferenceModel.Settings(
                        "http://localhost:" + port(), "identity_" + dtype.name().toLowerCase(), null, Duration.ofSeconds(10),
                        Duration.ofSeconds(5), 2, asBinary, 1 << 20), vertx, TensorAllocator.offHeap(), null);
                        Tensor x = Tensor.allocate(dtype, 2, 3)) {
                    byte[] bytes = new byte[(int) x.byteSize()];
                    random.nextBytes(bytes);
                    if (dtype == DType.BOOL) {
                        for (int i = 0; i < bytes.length; i++) {
                            bytes[i] &= 1;
                        }
                    }
                    if (dtype == DType.F32 || dtype == DType.F64) {
                        // JSON numbers have no NaN payloads: use finite values
                        for (int i = 0; i < x.elementCount(); i++) {
                            bytes[i * dtype.byteSize() + dtype.byteSize() - 1] &= 0x3F;
                        }
                    }
                    x.segment().copyFrom(java.lang.foreign.MemorySegment.ofArray(bytes));
                    try (InferenceResult result = remote.run(Map.of("x", x))) {
                        assertEquals(dtype, result.get("y").dtype());
                        assertArrayEquals(bytes, result.get("y").toByteArray(), dtype + (asBinary ? " binary" : " JSON"));
                    }
                }
            }
        }
    }

    private static int port() {
        return Integer.parseInt(org.eclipse.microprofile.config.ConfigProvider.getConfig()
                .getOptionalValue("quarkus.http.test-port", String.class).orElse("8081"));
    }

    @Test
    void theApplicationServesItsRemoteModelsToo() {
        given().get("/v2/models/json").then().statusCode(200).body("name", equalTo("json"))
                .body("inputs[0].name", equalTo("x")).body("inputs[0].datatype", equalTo("FP32"));
    }

    @Test
    void aRemoteThatServesAnotherModelIsNamedWithEachDifference() {
        ModelSharingException e = assertThrows(ModelSharingException.class, () -> wrong.inputs());
        assertEquals("Remote model 'wrong' at http://localhost:" + port() + "/v2/models/arith is not the model the"
                + " application expects: it has no input 'x' (x: F32[?, 3] here); its inputs are [a, b]; it has no"
                + " output 'y' (y: F32[?, 3] here); its outputs are [sum, product]", e.getMessage());
    }

    @Test
    void aBadRequestIsATensorExceptionWithTheRemotesError() {
        try (Tensor x = Tensor.of(new float[8], 2, 4)) {
            TensorException e = assertThrows(TensorException.class, () -> binary.run(Map.of("x", x)));
            assertTrue(e.getMessage().startsWith("Remote model 'binary' at http://localhost:" + port()
                    + "/v2/models/local refused the request (400: "), e.getMessage());
            assertTrue(e.getMessage().contains("x: F32[?, 3]"), e.getMessage());
        }
    }

    @Test
    void aStalledRemoteFailsWithinTheTimeout() {
        try (Tensor x = Tensor.of(new float[3], 1, 3)) {
            ModelSharingException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(ModelSharingException.class, () -> stalled.run(Map.of("x", x))));
            assertEquals(
                    "Remote model 'stalled' at http://127.0.0.1:" + Integer.getInteger(STALLED_PORT) + "/v2/models/stalled did"
                            + " not answer within 500 ms (quarkus.model-sharing.models.\"stalled\".remote.timeout)",
                    e.getMessage());
        }
    }

    @Test
    void aRemoteThatIsDownIsNamedInTheErrorAndInReadiness() {
        try (Tensor x = Tensor.of(new float[3], 1, 3)) {
            ModelSharingException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> assertThrows(ModelSharingException.class, () -> down.run(Map.of("x", x))));
            assertTrue(e.getMessage()
                    .startsWith("Remote model 'down' at http://127.0.0.1:" + Integer.getInteger(DOWN_PORT) + "/v2/models/down"
                            + " cannot be reached: Connection refused"),
                    e.getMessage());
        }
        given().get("/q/health/ready").then().statusCode(503)
                .body("checks[0].data.binary", equalTo("ready at http://localhost:" + port() + "/v2/models/local"))
                .body("checks[0].data.down",
                        startsWith("down: Remote model 'down' at http://127.0.0.1:" + Integer.getInteger(DOWN_PORT)
                                + "/v2/models/down cannot be reached: Connection refused"))
                .body("checks[0].data.stalled", containsString("did not answer within 500 ms"));
        given().get("/v2/models/down/ready").then().statusCode(400)
                .body("error", startsWith("Model 'down' is not ready: down: Remote model 'down'"));
        given().get("/v2/models/binary/ready").then().statusCode(200);
    }

    @Test
    void remoteRequestsAreMetered() {
        try (Tensor x = Tensor.of(new float[3], 1, 3)) {
            binary.run(Map.of("x", x)).close();
        }
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("model_sharing_remote_requests_seconds_count{model=\"binary\"}"))
                .body(containsString("model_sharing_remote_failures_total{model=\"down\"}"));
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void acceptAndStall() {
        try {
            stalledServer = new ServerSocket(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.setProperty(STALLED_PORT, Integer.toString(stalledServer.getLocalPort()));
        System.setProperty(DOWN_PORT, Integer.toString(freePort()));
        ServerSocket server = stalledServer;
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket connection = server.accept();
                    synchronized (STALLED_CONNECTIONS) {
                        STALLED_CONNECTIONS.add(connection);
                    }
                } catch (IOException closed) {
                    return;
                }
            }
        }, "stalled-remote");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private static void closeStalled() {
        System.clearProperty(STALLED_PORT);
        System.clearProperty(DOWN_PORT);
        try {
            stalledServer.close();
            synchronized (STALLED_CONNECTIONS) {
                for (Socket connection : STALLED_CONNECTIONS) {
                    connection.close();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
