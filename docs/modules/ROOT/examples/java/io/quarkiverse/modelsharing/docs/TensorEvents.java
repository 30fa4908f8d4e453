package io.quarkiverse.modelsharing.docs;

// tag::event-bus[]
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.vertx.ConsumeEvent;
import io.vertx.mutiny.core.eventbus.EventBus;

@ApplicationScoped
public class TensorEvents {

    final BlockingQueue<float[]> received = new LinkedBlockingQueue<>();

    @Inject
    EventBus bus;

    public void send(float[] embedding) {
        try (Tensor tensor = Tensor.of(embedding, embedding.length)) {
            bus.send("embeddings", tensor); // the sender may close its tensor right away
        }
    }

    @ConsumeEvent("embeddings")
    void consume(Tensor tensor) {
        try (tensor) { // each consumer closes its own reference
            received.add(tensor.toFloatArray());
        }
    }
    // end::event-bus[]

    /** What the consumer received (a field read on the bean's client proxy would not be the bean's). */
    BlockingQueue<float[]> received() {
        return received;
    }
    // tag::event-bus[]
}
// end::event-bus[]
