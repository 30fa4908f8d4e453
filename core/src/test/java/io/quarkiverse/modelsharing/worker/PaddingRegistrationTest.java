package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * A client cannot give a model of a shared worker another padding than the one it was registered or started with:
 * a wrong padding (here: the mask padded with 1, so that padded positions are attended) would change every other
 * client's answers. Each attack is refused, and the victim's 200 mixed-length answers stay right.
 */
class PaddingRegistrationTest {

    static final Padding BAD = new Padding(Map.of("input_ids", 0.0, "attention_mask", 1.0, "token_type_ids", 0.0), 1,
            Set.of("last_hidden_state"), 0);

    ShmTestRoots.Root shm;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;
    Path model;

    @BeforeEach
    void setUp() throws Exception {
        shm = ShmTestRoots.create();
        workerPool = SharedMemoryPool.open(shm.settings(1 << 20, 64 << 20));
        clientPool = SharedMemoryPool.open(shm.settings(1 << 20, 64 << 20));
        model = shm.root.resolve("tiny.onnx");
        Files.write(model, TinyModels.textEncoder(0));
    }

    @AfterEach
    void tearDown() throws Exception {
        Files.deleteIfExists(model);
        clientPool.close();
        workerPool.close();
        shm.close();
    }

    /** Mixed-length texts from the victim, concurrently so that they batch; what is wrong with its answers. */
    static List<String> victimRuns(WorkerClient victim) throws Exception {
        List<CompletableFuture<String>> calls = new ArrayList<>();
        Random random = new Random(3);
        try (ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 200; i++) {
                long[] ids = new long[1 + random.nextInt(20)];
                for (int t = 0; t < ids.length; t++) {
                    ids[t] = 1 + random.nextInt(TinyModels.VOCABULARY - 1);
                }
                calls.add(CompletableFuture.supplyAsync(
                        () -> PaddedWorkerBatchingTest.call(victim, ids, PaddedWorkerBatchingTest.ones(ids.length)),
                        callers));
            }
            List<String> wrong = new ArrayList<>();
            for (CompletableFuture<String> call : calls) {
                String problem = call.get(2, TimeUnit.MINUTES);
                if (!problem.isEmpty()) {
                    wrong.add(problem);
                }
            }
            return wrong;
        }
    }

    private WorkerServer dynamic(Path socket) throws Exception {
        WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 4096, Duration.ofSeconds(60),
                "dynamic", 16, Duration.ofMillis(20)), ModelRegistry.builder().build(), workerPool);
        worker.allowDynamicModels();
        return worker;
    }

    @Test
    void aLaterLoadCannotPadAModelRegisteredWithoutPadding() throws Exception {
        Path socket = shm.root.resolve("later.sock");
        try (WorkerServer worker = dynamic(socket);
                WorkerClient victim = WorkerClient.connect(socket, clientPool, "victim");
                WorkerClient attacker = WorkerClient.connect(socket, clientPool, "attacker")) {
            victim.load("tiny=" + model, null, Duration.ofSeconds(30));
            assertEquals("Model 'tiny' is registered with no padding; a load cannot change it to " + BAD
                    + ": register the model under another name",
                    assertThrows(WorkerException.class,
                            () -> attacker.load("tiny=" + model, BAD, Duration.ofSeconds(30))).getMessage());
            assertNull(worker.padding("tiny"));
            List<String> wrong = victimRuns(victim);
            assertEquals(List.of(), wrong.subList(0, Math.min(3, wrong.size())), wrong.size() + " wrong answers");
        }
    }

    @Test
    void aLoadWithoutPaddingOfAModelRegisteredWithOneIsRefused() throws Exception {
        Path socket = shm.root.resolve("first.sock");
        try (WorkerServer worker = dynamic(socket);
                WorkerClient victim = WorkerClient.connect(socket, clientPool, "victim");
                WorkerClient attacker = WorkerClient.connect(socket, clientPool, "attacker")) {
            attacker.load("tiny=" + model, BAD, Duration.ofSeconds(30));
            assertEquals("Model 'tiny' is registered with padding " + BAD + "; a load cannot change it to none: register"
                    + " the model under another name",
                    assertThrows(WorkerException.class,
                            () -> victim.load("tiny=" + model, null, Duration.ofSeconds(30))).getMessage(),
                    "the victim learns that the name is taken, rather than getting another's padding");
        }
    }

    @Test
    void aPaddingThatNamesWhatTheModelLacksIsRefusedAtItsLoad() throws Exception {
        Path socket = shm.root.resolve("check.sock");
        try (WorkerServer worker = dynamic(socket);
                WorkerClient attacker = WorkerClient.connect(socket, clientPool, "attacker")) {
            Padding nonsense = new Padding(Map.of("no_such_input", 0.0), 1, Set.of("no_such_output"), 0);
            assertEquals("Model 'tiny' pads input 'no_such_input', which it does not have; its inputs are"
                    + " [attention_mask, input_ids, token_type_ids]",
                    assertThrows(WorkerException.class,
                            () -> attacker.load("tiny=" + model, nonsense, Duration.ofSeconds(30))).getMessage());
            assertNull(worker.padding("tiny"), "a refused padding registers nothing");
            attacker.load("tiny=" + model, PaddedWorkerBatchingTest.PADDING, Duration.ofSeconds(30));
            assertEquals(PaddedWorkerBatchingTest.PADDING, worker.padding("tiny"), "a corrected load registers the name");
        }
    }

    @Test
    void aModelTheWorkerWasStartedWithKeepsItsPaddingWhateverTheLoadsForm() throws Exception {
        Path socket = shm.root.resolve("static.sock");
        ModelRegistry registry = ModelRegistry.builder().build();
        registry.register("tiny", OnnxModelLoader.of("tiny", ModelSource.file(model)));
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 4096, Duration.ofSeconds(60),
                "static", 16, Duration.ofMillis(20)), registry, workerPool);
                WorkerClient victim = WorkerClient.connect(socket, clientPool, "victim");
                WorkerClient attacker = WorkerClient.connect(socket, clientPool, "attacker")) {
            worker.allowDynamicModels();
            assertThrows(WorkerException.class, () -> attacker.load("tiny", BAD, Duration.ofSeconds(30)));
            assertEquals("Model 'tiny' is registered with no padding; a load cannot change it to " + BAD
                    + ": register the model under another name",
                    assertThrows(WorkerException.class,
                            () -> attacker.load("tiny=" + model, BAD, Duration.ofSeconds(30))).getMessage());
            victim.load("tiny", Duration.ofSeconds(30));
            List<String> wrong = victimRuns(victim);
            assertEquals(List.of(), wrong.subList(0, Math.min(3, wrong.size())), wrong.size() + " wrong answers");
        } finally {
            registry.close();
        }
    }
}
