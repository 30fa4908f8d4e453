package io.quarkiverse.modelsharing.runtime.eventbus;

import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;

/**
 * Makes {@link TensorMessageCodec} the default codec for {@link Tensor}s. Quarkus gives every {@code @ConsumeEvent}
 * parameter type its pass-the-object local codec while it registers consumers; this runs after that, at startup, so
 * that tensors are retained per consumer instead of shared as one object that the first consumer would close.
 */
@Singleton
public class TensorCodecRegistration {

    void register(@Observes StartupEvent startup, Vertx vertx) {
        vertx.eventBus().unregisterDefaultCodec(Tensor.class);
        vertx.eventBus().registerDefaultCodec(Tensor.class, new TensorMessageCodec());
        // the codec cannot see the address; tell a received tensor where it was delivered, for its leak report
        vertx.eventBus().addInboundInterceptor(delivery -> {
            if (delivery.message().body() instanceof Tensor tensor) {
                tensor.noteOrigin("on address '" + delivery.message().address() + "'");
            }
            delivery.next();
        });
    }
}
