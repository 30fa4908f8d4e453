package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.test.QuarkusUnitTest;
import io.quarkus.vertx.ConsumeEvent;
import io.vertx.mutiny.core.eventbus.EventBus;

/** Tensors travel on the event bus by reference: each consumer reads the sender's memory through a read-only view. */
class EventBusTensorTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(Consumers.class));

    @Inject
    EventBus bus;

    @Inject
    TensorAllocator tensors;

    @Test
    void aConsumerReadsTheSendersMemoryReadOnly() {
        assertEquals(StorageKind.SHARED, tensors.kind(), "/dev/shm is usable here");
        try (Tensor t = tensors.allocate(DType.F32, 1000)) {
            t.setFloat(999, 3.5f);
            String reply = bus.<String> requestAndAwait("tensors.describe", t).body();
            assertEquals("read-only " + t.segment().address() + " 3.5", reply, "same memory, not a copy");
        }
    }

    @Test
    void theSenderMayCloseRightAfterSending() throws Exception {
        Tensor t = Tensor.of(new float[] { 1, 2, 3 });
        bus.send("tensors.sum", t);
        t.close();
        assertEquals(6.0, Consumers.sums.poll(10, TimeUnit.SECONDS));
    }

    @Test
    void publishToManyConsumersSharesOneCopy() throws Exception {
        try (Tensor t = tensors.allocate(DType.I64, 4)) {
            bus.publish("tensors.broadcast", t);
            for (int i = 0; i < 3; i++) {
                assertEquals(t.segment().address(), Consumers.addresses.poll(10, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aConsumerThatNeverClosesIsReported() throws Exception {
        List<String> warnings = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                warnings.add(record.getMessage() + " " + java.util.Arrays.toString(record.getParameters()));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger logger = Logger.getLogger(TensorMessageCodec.class.getName());
        logger.addHandler(capture);
        try (Tensor t = Tensor.of(new float[] { 1, 2 })) {
            bus.send("tensors.leaky", t);
            assertTrue(Consumers.leaked.poll(10, TimeUnit.SECONDS));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (warnings.isEmpty() && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(50);
            }
        } finally {
            logger.removeHandler(capture);
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("F32[2] received from the event bus on thread"), warnings.get(0));
        assertTrue(warnings.get(0).contains("on address 'tensors.leaky'"), warnings.get(0));
        assertTrue(warnings.get(0).contains("was never closed by its consumer"), warnings.get(0));
    }

    @ApplicationScoped
    static class Consumers {
        // static: the test reaches the bean through a client proxy, whose own fields are not the bean's
        static final BlockingQueue<Double> sums = new LinkedBlockingQueue<>();
        static final BlockingQueue<Long> addresses = new LinkedBlockingQueue<>();
        static final BlockingQueue<Boolean> leaked = new LinkedBlockingQueue<>();

        @ConsumeEvent("tensors.describe")
        String describe(Tensor tensor) {
            try (tensor) {
                return (tensor.isReadOnly() ? "read-only " : "writable ") + tensor.segment().address() + " "
                        + tensor.getFloat(999);
            }
        }

        @ConsumeEvent("tensors.sum")
        void sum(Tensor tensor) {
            try (tensor) {
                double sum = 0;
                for (float v : tensor.toFloatArray()) {
                    sum += v;
                }
                sums.add(sum);
            }
        }

        @ConsumeEvent("tensors.broadcast")
        void first(Tensor tensor) {
            try (tensor) {
                addresses.add(tensor.segment().address());
            }
        }

        @ConsumeEvent("tensors.broadcast")
        void second(Tensor tensor) {
            try (tensor) {
                addresses.add(tensor.segment().address());
            }
        }

        @ConsumeEvent("tensors.broadcast")
        void third(Tensor tensor) {
            try (tensor) {
                addresses.add(tensor.segment().address());
            }
        }

        @ConsumeEvent("tensors.leaky")
        void forget(Tensor tensor) {
            leaked.add(tensor.elementCount() == 2); // and never closes it
        }
    }
}
