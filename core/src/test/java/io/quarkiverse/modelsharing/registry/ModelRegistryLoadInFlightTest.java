package io.quarkiverse.modelsharing.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.registry.FakeLoader.FakeModel;

/**
 * A load still in flight when its model is registered again, reloaded or its registry closed installs nothing: it
 * closes what it loaded, and its callers get the model as it is now, or the registry's closed exception.
 */
class ModelRegistryLoadInFlightTest {

    private static final long MIB = 1 << 20;
    /** Two callers: the one that loads and one that may join its load. */
    private static final int CALLERS = 2;

    @Test
    void registerDuringALoadServesTheNewLoader() throws Exception {
        FakeLoader old = gated(new FakeLoader("a", MIB));
        FakeLoader replacement = new FakeLoader("a2", 2 * MIB);
        try (ModelRegistry registry = ModelRegistry.builder().build();
                ExecutorService pool = Executors.newFixedThreadPool(CALLERS)) {
            registry.register("a", old);
            List<Future<ModelHandle<FakeModel>>> callers = duringLoad(registry, pool, old,
                    () -> registry.register("a", replacement));
            for (Future<ModelHandle<FakeModel>> caller : callers) {
                try (ModelHandle<FakeModel> handle = caller.get(10, TimeUnit.SECONDS)) {
                    assertSame(replacement, handle.get().loader(), "served from the loader registered during the load");
                }
            }
            assertEquals(1, old.loads.get());
            assertEquals(1, old.closes.get(), "the superseded load was closed, not installed");
            assertEquals(1, replacement.loads.get());
            assertEquals(0, replacement.closes.get());
            assertEquals(2 * MIB, registry.usedBytes(), "only the current load is accounted");
        }
    }

    @Test
    void reloadDuringALoadServesALoadStartedAfterTheReload() throws Exception {
        FakeLoader loader = gated(new FakeLoader("a", MIB));
        try (ModelRegistry registry = ModelRegistry.builder().build();
                ExecutorService pool = Executors.newFixedThreadPool(CALLERS)) {
            registry.register("a", loader);
            List<Future<ModelHandle<FakeModel>>> callers = duringLoad(registry, pool, loader, () -> registry.reload("a"));
            for (Future<ModelHandle<FakeModel>> caller : callers) {
                try (ModelHandle<FakeModel> handle = caller.get(10, TimeUnit.SECONDS)) {
                    assertEquals(2, handle.generation(), "the second load, the one started after the reload");
                    handle.get().use();
                }
            }
            assertEquals(2, loader.loads.get());
            assertEquals(1, loader.closes.get(), "the superseded load was closed, not installed");
            assertEquals(MIB, registry.usedBytes(), "only the current load is accounted");
        }
    }

    @Test
    void registerDuringAFailingLoadServesTheNewLoaderInsteadOfTheFailure() throws Exception {
        FakeLoader broken = gated(new FakeLoader("a", MIB));
        broken.failure = new IllegalStateException("the file is half-written");
        FakeLoader fixed = new FakeLoader("a2", MIB);
        try (ModelRegistry registry = ModelRegistry.builder().build();
                ExecutorService pool = Executors.newFixedThreadPool(CALLERS)) {
            registry.register("a", broken);
            List<Future<ModelHandle<FakeModel>>> callers = duringLoad(registry, pool, broken,
                    () -> registry.register("a", fixed));
            for (Future<ModelHandle<FakeModel>> caller : callers) {
                try (ModelHandle<FakeModel> handle = caller.get(10, TimeUnit.SECONDS)) {
                    assertSame(fixed, handle.get().loader());
                }
            }
            assertEquals(1, broken.loads.get());
            assertEquals(ModelState.LOADED, registry.state("a"));
            assertNull(registry.lastFailure("a"), "a superseded load's failure is not the model's");
            assertEquals(MIB, registry.usedBytes(), "the failed load gave its bytes back");
        }
    }

    @Test
    void closeDuringALoadClosesWhatItLoadedAndFailsItsCallers() throws Exception {
        FakeLoader loader = gated(new FakeLoader("a", MIB));
        try (ModelRegistry registry = ModelRegistry.builder().build();
                ExecutorService pool = Executors.newFixedThreadPool(CALLERS)) {
            registry.register("a", loader);
            List<Future<ModelHandle<FakeModel>>> callers = duringLoad(registry, pool, loader, registry::close);
            for (Future<ModelHandle<FakeModel>> caller : callers) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> caller.get(10, TimeUnit.SECONDS));
                assertInstanceOf(ModelUnavailableException.class, e.getCause());
                assertEquals("The model registry is closed (the application is shutting down)", e.getCause().getMessage());
            }
            assertEquals(1, loader.loads.get());
            assertEquals(1, loader.closes.get(), "the load that finished after close() was closed, not leaked");
            assertEquals(0, registry.usedBytes());
            assertEquals(ModelState.UNLOADED, registry.state("a"));
        }
    }

    private static FakeLoader gated(FakeLoader loader) {
        loader.gate = new CountDownLatch(1);
        return loader;
    }

    /**
     * Starts {@link #CALLERS} acquires of model {@code a}, runs {@code action} once the first load is inside
     * {@code loader}, then lets that load finish.
     */
    private static List<Future<ModelHandle<FakeModel>>> duringLoad(ModelRegistry registry, ExecutorService pool,
            FakeLoader loader, Runnable action) throws InterruptedException {
        List<Future<ModelHandle<FakeModel>>> callers = new ArrayList<>();
        try {
            for (int i = 0; i < CALLERS; i++) {
                callers.add(pool.submit(() -> registry.acquire("a", FakeModel.class)));
            }
            assertTrue(loader.firstLoadStarted.await(10, TimeUnit.SECONDS), "the load never started");
            action.run();
        } finally {
            loader.gate.countDown();
        }
        return callers;
    }
}
