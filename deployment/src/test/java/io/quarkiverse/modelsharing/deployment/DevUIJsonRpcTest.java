package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.devui.tests.DevUIJsonRPCTest;
import io.quarkus.test.QuarkusDevModeTest;

/**
 * The Dev UI card's JSON-RPC service in dev mode: what it shows of the models, the shared memory and the workers, and
 * its actions, reload, evict and restart a worker, with what they answer when they cannot act.
 */
class DevUIJsonRpcTest extends DevUIJsonRPCTest {

    static final Path AFFINE = TestModelFiles.write("dev-ui-json-rpc-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusDevModeTest app = new QuarkusDevModeTest()
            .withApplicationRoot(jar -> jar.addClasses(AffineResource.class, TestModelFiles.class)
                    .addAsResource(new StringAsset(DevUIPageTest.properties(AFFINE)), "application.properties"));

    DevUIJsonRpcTest() {
        super("quarkus-model-sharing");
    }

    @AfterAll
    static void removeModel() throws Exception {
        Files.deleteIfExists(AFFINE);
    }

    @Test
    void modelsShowPlacementStateAndUse() throws Exception {
        get("/affine").then().statusCode(200);
        get("/affine").then().statusCode(200); // a hit, whoever loaded it
        JsonNode models = executeJsonRPCMethod("getModels");
        assertEquals(2, models.size(), models.toString());
        JsonNode affine = models.get(0);
        assertEquals("affine", affine.get("name").asText());
        assertEquals("in-process", affine.get("placement").asText());
        assertEquals("file " + AFFINE, affine.get("source").asText());
        assertTrue(affine.get("hits").asLong() >= 1, affine.toString());
        assertTrue(affine.get("loads").asLong() >= 1, affine.toString());
        JsonNode remote = models.get(1);
        assertEquals("remote", remote.get("name").asText());
        assertEquals("worker", remote.get("placement").asText());
        assertEquals("in workers", remote.get("state").asText());
        assertEquals("2", executeJsonRPCMethod(String.class, "getModelCount"));
    }

    @Test
    void evictUnloadsAnIdleModelAndReloadLoadsItAfresh() throws Exception {
        get("/affine").then().statusCode(200); // loaded, whatever another test did
        JsonNode evicted = executeJsonRPCMethod("evict", Map.of("name", "affine"));
        assertTrue(evicted.get("done").asBoolean(), evicted.toString());
        assertEquals("Model 'affine' was unloaded; the next request loads it again", evicted.get("message").asText());
        assertEquals("unloaded", model("affine").get("state").asText());
        assertEquals(0, model("affine").get("bytes").asLong());

        JsonNode again = executeJsonRPCMethod("evict", Map.of("name", "affine"));
        assertFalse(again.get("done").asBoolean());
        assertEquals("Model 'affine' was not unloaded: it is unloaded", again.get("message").asText());

        long loads = model("affine").get("loads").asLong();
        JsonNode reloaded = executeJsonRPCMethod("reload", Map.of("name", "affine"));
        assertTrue(reloaded.get("done").asBoolean(), reloaded.toString());
        assertTrue(
                reloaded.get("message").asText()
                        .matches("Model 'affine' was reloaded from file \\Q" + AFFINE + "\\E in \\d+ ms"),
                reloaded.get("message").asText());
        JsonNode affine = model("affine");
        assertEquals("loaded", affine.get("state").asText());
        assertEquals(loads + 1, affine.get("loads").asLong());
        assertTrue(affine.get("bytes").asLong() > 0, affine.toString());
    }

    @Test
    void actionsSayWhyTheyDidNothing() throws Exception {
        JsonNode remote = executeJsonRPCMethod("evict", Map.of("name", "remote"));
        assertFalse(remote.get("done").asBoolean());
        assertEquals("Model 'remote' runs in workers (placement=worker), so it is not evicted here: restart the workers"
                + " to load it afresh", remote.get("message").asText());
        JsonNode unknown = executeJsonRPCMethod("reload", Map.of("name", "nope"));
        assertFalse(unknown.get("done").asBoolean());
        assertEquals("Model 'nope' could not be reloaded: No model named 'nope' is registered; registered models:"
                + " [affine, remote]", unknown.get("message").asText());
        JsonNode worker = executeJsonRPCMethod("restartWorker", Map.of("name", "cuda:9#0"));
        assertFalse(worker.get("done").asBoolean());
        assertEquals("No managed worker is named 'cuda:9#0'; the workers are [cpu#0]", worker.get("message").asText());
    }

    @Test
    void sharedMemoryShowsThisProcesssPools() throws Exception {
        JsonNode memory = executeJsonRPCMethod("getSharedMemory");
        assertEquals("memfd", memory.get("kind").asText(), memory.toString());
        assertEquals(64L << 20, memory.get("poolFileBytes").asLong());
        assertTrue(memory.get("quotaBytes").asLong() >= memory.get("mappedBytes").asLong(), memory.toString());
        assertEquals(memory.get("files").asLong() * (64L << 20), memory.get("mappedBytes").asLong());
    }

    @Test
    void restartingAWorkerKillsItAndSupervisionStartsItAgain() throws Exception {
        JsonNode before = upWorker(-1);
        assertEquals("cpu#0", before.get("name").asText());
        assertEquals("cpu", before.get("device").asText());
        assertEquals("remote", before.get("status").get("models").asText());
        assertEquals("1", executeJsonRPCMethod(String.class, "getWorkerCount"));
        long pid = before.get("pid").asLong();

        JsonNode restarted = executeJsonRPCMethod("restartWorker", Map.of("name", "cpu#0"));
        assertTrue(restarted.get("done").asBoolean(), restarted.toString());
        assertEquals("Worker 'cpu#0' was killed; it is being started again", restarted.get("message").asText());

        JsonNode after = upWorker(pid);
        assertNotEquals(pid, after.get("pid").asLong());
        assertEquals(before.get("restarts").asLong() + 1, after.get("restarts").asLong());
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the old worker is gone");
    }

    /** The worker once it is up with a pid other than {@code notPid}, its heartbeat answered. */
    private JsonNode upWorker(long notPid) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        JsonNode worker;
        do {
            worker = executeJsonRPCMethod("getWorkers").get(0);
            if (worker.get("state").asText().equals("up") && worker.get("pid").asLong() != notPid) {
                return worker;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("the worker is not up again within 30 s: " + worker);
    }

    private JsonNode model(String name) throws Exception {
        for (JsonNode model : executeJsonRPCMethod("getModels")) {
            if (model.get("name").asText().equals(name)) {
                return model;
            }
        }
        throw new AssertionError("no model " + name);
    }
}
