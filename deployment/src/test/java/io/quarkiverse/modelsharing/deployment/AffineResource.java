package io.quarkiverse.modelsharing.deployment;

import java.util.Arrays;
import java.util.Map;
import java.util.UUID;

import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * For dev-mode tests: {@code GET /affine} runs the model {@code affine} on a row of ones and answers with this class's
 * instance id (new after each reload of the application) and the output row.
 */
@Path("/affine")
public class AffineResource {

    static final String INSTANCE = UUID.randomUUID().toString();

    @Inject
    @Model("affine")
    InferenceModel model;

    @GET
    @Produces(MediaType.TEXT_PLAIN)
    public String run() {
        try (Tensor x = Tensor.of(new float[] { 1, 1, 1, 1 }, 1, 4); InferenceResult result = model.run(Map.of("x", x))) {
            return INSTANCE + " " + Arrays.toString(result.get("y").toFloatArray());
        }
    }
}
