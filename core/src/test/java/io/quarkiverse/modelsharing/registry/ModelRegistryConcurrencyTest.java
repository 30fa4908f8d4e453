package io.quarkiverse.modelsharing.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.RepeatedTest;

import io.quarkiverse.modelsharing.registry.FakeLoader.FakeModel;

/**
 * Many threads acquire, use, release, evict and reload at random under a tight budget: a model is never
 * unloaded under an open handle, every load is closed exactly once, and the accounting returns to zero.
 */
class ModelRegistryConcurrencyTest {

    private static final int MODELS = 5;
    private static final int THREADS = 8;
    private static final int OPERATIONS = 20_000;

    @RepeatedTest(3)
    void randomAcquireReleaseEvictNeverUnloadsAModelInUse() throws Exception {
        List<FakeLoader> loaders = new ArrayList<>();
        ModelRegistry registry = ModelRegistry.builder().policy(EvictionPolicy.LRU).maxMemoryBytes(3)
                .idleTimeout(Duration.ofMillis(20)).build();
        for (int i = 0; i < MODELS; i++) {
            FakeLoader loader = new FakeLoader("m" + i, 1);
            loaders.add(loader);
            registry.register(loader.name, loader);
        }
        try (ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
            List<Future<Integer>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                workers.add(pool.submit(() -> work(registry)));
            }
            int admissionFailures = 0;
            for (Future<Integer> worker : workers) {
                admissionFailures += worker.get(2, TimeUnit.MINUTES);
            }
            // Admission may fail only when every model in the budget was in use at that moment.
            assertTrue(admissionFailures < THREADS * OPERATIONS / 2, "admission failures: " + admissionFailures);
        }
        for (String name : registry.names()) {
            assertEquals(0, registry.stats(name).liveHandles(), name);
        }
        registry.close();
        long loads = 0;
        for (FakeLoader loader : loaders) {
            assertEquals(loader.loads.get(), loader.closes.get(), "every load of " + loader.name + " closed exactly once");
            loads += loader.loads.get();
        }
        assertEquals(0, registry.usedBytes(), "all bytes given back");
        assertTrue(loads >= MODELS, "loads: " + loads);
    }

    private static int work(ModelRegistry registry) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        List<ModelHandle<FakeModel>> held = new ArrayList<>();
        int admissionFailures = 0;
        for (int i = 0; i < OPERATIONS; i++) {
            String name = "m" + random.nextInt(MODELS);
            int action = random.nextInt(100);
            if (action < 50) {
                try {
                    ModelHandle<FakeModel> handle = registry.acquire(name, FakeModel.class);
                    handle.get().use();
                    if (held.size() < 2 && random.nextBoolean()) {
                        held.add(handle);
                    } else {
                        handle.close();
                    }
                } catch (ModelAdmissionException e) {
                    admissionFailures++;
                }
            } else if (action < 80 && !held.isEmpty()) {
                ModelHandle<FakeModel> handle = held.remove(random.nextInt(held.size()));
                handle.get().use();
                handle.close();
            } else if (action < 90) {
                registry.evict(name);
            } else if (action < 93) {
                registry.reload(name);
            } else {
                held.forEach(handle -> handle.get().use());
            }
        }
        held.forEach(ModelHandle::close);
        return admissionFailures;
    }
}
