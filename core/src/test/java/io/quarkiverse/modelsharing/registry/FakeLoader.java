package io.quarkiverse.modelsharing.registry;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** A loader of {@link FakeModel}s that counts loads and can be made slow or failing. */
final class FakeLoader implements ModelLoader<FakeLoader.FakeModel> {

    final String name;
    final long bytes;
    final AtomicInteger loads = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();
    /** Opens when the first load has started, before it waits for {@link #gate}. */
    final CountDownLatch firstLoadStarted = new CountDownLatch(1);
    volatile CountDownLatch gate;
    volatile RuntimeException failure;

    FakeLoader(String name, long bytes) {
        this.name = name;
        this.bytes = bytes;
    }

    @Override
    public String describe() {
        return "fake " + name;
    }

    @Override
    public long estimateBytes() {
        return bytes;
    }

    @Override
    public FakeModel load() throws Exception {
        loads.incrementAndGet();
        firstLoadStarted.countDown();
        CountDownLatch latch = gate;
        if (latch != null) {
            latch.await();
        }
        RuntimeException fail = failure;
        if (fail != null) {
            throw fail;
        }
        return new FakeModel(this);
    }

    @Override
    public String toString() {
        return describe();
    }

    /** A model that knows whether it was closed, to catch use after unload. */
    static final class FakeModel implements AutoCloseable {
        private final FakeLoader loader;
        volatile boolean closed;

        FakeModel(FakeLoader loader) {
            this.loader = loader;
        }

        /** The loader that made this model, to tell which registration a caller was served from. */
        FakeLoader loader() {
            return loader;
        }

        /** Stands for running the model: fails if the registry closed it under a live handle. */
        void use() {
            if (closed) {
                throw new AssertionError("model " + loader.name + " used after it was unloaded");
            }
        }

        @Override
        public void close() {
            if (closed) {
                throw new AssertionError("model " + loader.name + " closed twice");
            }
            closed = true;
            loader.closes.incrementAndGet();
        }
    }
}
