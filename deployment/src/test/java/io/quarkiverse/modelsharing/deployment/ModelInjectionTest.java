package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Dependent;
import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelState;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.arc.Arc;
import io.quarkus.arc.InstanceHandle;
import io.quarkus.arc.Unremovable;
import io.quarkus.test.QuarkusUnitTest;

class ModelInjectionTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(First.class, Second.class, Holder.class)
                    .addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.affine.intra-op-threads", "1");

    @Inject
    First first;

    @Inject
    Second second;

    @Inject
    ModelRegistry registry;

    @Test
    void injectionPointsShareOneLoadedModel() {
        float[] row = { 1, 2, 3, 4 };
        assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), first.infer(row));
        assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), second.infer(row));
        assertSame(second.session(), registry.acquire("affine", OnnxModel.class).get(),
                "the raw handle and the registry see the same session");
        assertEquals(1, registry.stats("affine").loads(), "one load for every injection point");
        assertEquals("affine", first.model().name());
        assertEquals("[x: F32[?, 4]]", first.model().inputs().toString());
    }

    @Test
    void rawHandleKeepsTheModelLoadedUntilItsBeanIsDestroyed() {
        InstanceHandle<Holder> holder = Arc.container().instance(Holder.class);
        assertEquals(1, holder.get().handle.get().inputs().size());
        assertTrue(registry.stats("affine").liveHandles() >= 1);
        int before = registry.stats("affine").liveHandles();
        holder.destroy();
        assertEquals(before - 1, registry.stats("affine").liveHandles(), "destroying the bean closed its handle");
    }

    @Test
    void programmaticLookupWithTheLiteral() {
        InferenceModel model = Arc.container().instance(InferenceModel.class, Model.Literal.of("affine")).get();
        assertEquals("affine", model.name());
        assertEquals(2, model.outputs().get(0).shape().length);
        assertEquals(ModelState.LOADED, registry.state("affine"));
    }

    @ApplicationScoped
    static class First {
        @Inject
        @Model("affine")
        InferenceModel model;

        InferenceModel model() {
            return model;
        }

        float[] infer(float[] row) {
            try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = model.run(Map.of("x", x))) {
                return result.get("y").toFloatArray();
            }
        }
    }

    @ApplicationScoped
    static class Second {
        final InferenceModel model;

        @Inject
        @Model("affine")
        ModelHandle<OnnxModel> session;

        Second(@Model("affine") InferenceModel model) {
            this.model = model;
        }

        OnnxModel session() {
            return session.get();
        }

        float[] infer(float[] row) {
            try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = session.get().run(Map.of("x", x))) {
                return result.get("y").toFloatArray();
            }
        }
    }

    @Dependent
    @Unremovable
    static class Holder {
        @Inject
        @Model("affine")
        ModelHandle<OnnxModel> handle;
    }
}
