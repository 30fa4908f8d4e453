package io.quarkiverse.modelsharing.it;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.emptyString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;

/** The demo's models answer the Open Inference Protocol out of the box, as its application.properties turns it on. */
@QuarkusTest
class InferenceProtocolTest {

    /** "hello world" as all-MiniLM-L6-v2's tokenizer gives it, in the specification's JSON form. */
    static final String REQUEST = """
            {"id": "demo-1", "inputs": [
              {"name": "input_ids", "shape": [1, 4], "datatype": "INT64", "data": [101, 7592, 2088, 102]},
              {"name": "attention_mask", "shape": [1, 4], "datatype": "INT64", "data": [[1, 1, 1, 1]]},
              {"name": "token_type_ids", "shape": [1, 4], "datatype": "INT64", "data": [0, 0, 0, 0]}]}
            """;

    @Inject
    @Model("minilm")
    InferenceModel minilm;

    @Test
    void readyAndMetadata() {
        given().get("/v2/health/ready").then().statusCode(200).body(emptyString());
        given().get("/v2/models/minilm").then().statusCode(200)
                .body("name", equalTo("minilm"))
                .body("inputs.name", contains("input_ids", "attention_mask", "token_type_ids"))
                .body("inputs[0].datatype", equalTo("INT64"))
                .body("inputs[0].shape", contains(-1, -1))
                .body("outputs[0].name", equalTo("last_hidden_state"))
                .body("outputs[0].shape", contains(-1, -1, 384));
    }

    @Test
    void inferWithJsonTensorsGivesWhatTheModelGivesInProcess() {
        List<Float> served = given().contentType(ContentType.JSON).body(REQUEST).post("/v2/models/minilm/infer").then()
                .statusCode(200)
                .body("model_name", equalTo("minilm"))
                .body("id", equalTo("demo-1"))
                .body("outputs[0].name", equalTo("last_hidden_state"))
                .body("outputs[0].datatype", equalTo("FP32"))
                .body("outputs[0].shape", contains(1, 4, 384))
                .body("outputs[0].data", hasSize(4 * 384))
                .extract().path("outputs[0].data");
        try (Tensor ids = Tensor.of(new long[] { 101, 7592, 2088, 102 }, 1, 4);
                Tensor mask = Tensor.of(new long[] { 1, 1, 1, 1 }, 1, 4);
                Tensor types = Tensor.of(new long[4], 1, 4);
                InferenceResult result = minilm
                        .run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
            float[] expected = result.get("last_hidden_state").toFloatArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], served.get(i).floatValue(), "element " + i);
            }
        }
    }

    @Test
    void aBadDatatypeIsA400WithAnError() {
        given().contentType(ContentType.JSON).body(REQUEST.replaceFirst("INT64", "INT46")).post("/v2/models/minilm/infer")
                .then().statusCode(400).contentType(ContentType.JSON)
                .body("error", startsWith("The input 'input_ids' has datatype 'INT46', which is not one of BOOL,"));
    }
}
