package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.concat;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.floats;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.json;
import static io.quarkiverse.modelsharing.deployment.ProtocolTestData.sumAndProduct;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.emptyString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkus.test.QuarkusUnitTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The Open Inference Protocol's REST endpoints, driven with requests written from its specification (KServe's
 * "Open Inference Protocol (V2 Inference Protocol)", REST, with the binary tensor data extension): each endpoint,
 * JSON and binary tensors of every datatype, and bad requests, checking status, headers and bodies.
 */
class InferenceProtocolConformanceTest {

    /** Each datatype ONNX Runtime's Java API runs, served by an Identity model {@code identity_<datatype>}. */
    static final Map<String, DType> RUNNABLE = ProtocolTestData.RUNNABLE;

    @RegisterExtension
    static final QuarkusUnitTest app = configure(new QuarkusUnitTest()
            .withApplicationRoot(jar -> {
                jar.addClass(ProtocolTestData.class);
                RUNNABLE.forEach((name, dtype) -> jar.addAsResource(new ByteArrayAsset(TinyModels.identity(dtype)),
                        "models/identity_" + name.toLowerCase() + ".onnx"));
                jar.addAsResource(new ByteArrayAsset(sumAndProduct()), "models/arith.onnx");
            })
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.models.arith.path", "classpath:models/arith.onnx"));

    private static QuarkusUnitTest configure(QuarkusUnitTest test) {
        RUNNABLE.keySet().forEach(name -> test.overrideConfigKey("quarkus.model-sharing.models.identity_"
                + name.toLowerCase() + ".path", "classpath:models/identity_" + name.toLowerCase() + ".onnx"));
        return test;
    }

    // --- health and metadata -------------------------------------------------------------------------------------

    @Test
    void healthEndpointsAnswer200WithNoBody() {
        given().get("/v2/health/live").then().statusCode(200).body(emptyString());
        given().get("/v2/health/ready").then().statusCode(200).body(emptyString());
    }

    @Test
    void serverMetadataNamesItsExtensions() {
        given().get("/v2").then().statusCode(200).contentType(ContentType.JSON)
                .body("name", equalTo("quarkus-model-sharing"))
                .body("version", startsWith(""))
                .body("extensions", contains("binary_tensor_data")); // no system_shared_memory: off by default
    }

    @Test
    void modelMetadataGivesEachTensorWithMinusOneForAFreeDimension() {
        for (String path : List.of("/v2/models/identity_int64", "/v2/models/identity_int64/versions/1")) {
            given().get(path).then().statusCode(200).contentType(ContentType.JSON)
                    .body("name", equalTo("identity_int64"))
                    .body("versions", contains("1"))
                    .body("platform", equalTo("onnxruntime_onnx"))
                    .body("inputs[0].name", equalTo("x"))
                    .body("inputs[0].datatype", equalTo("INT64"))
                    .body("inputs[0].shape", contains(-1, 3))
                    .body("outputs[0].name", equalTo("y"))
                    .body("outputs[0].datatype", equalTo("INT64"))
                    .body("outputs[0].shape", contains(-1, 3));
        }
        given().get("/v2/models/arith").then().statusCode(200)
                .body("inputs.name", contains("a", "b"))
                .body("outputs.name", contains("sum", "product"))
                .body("inputs[1].shape", contains(2, 2));
    }

    @Test
    void modelReadyIs200AndAnUnknownModelOrVersionIs404WithAnError() {
        given().get("/v2/models/arith/ready").then().statusCode(200).body(emptyString());
        given().get("/v2/models/arith/versions/1/ready").then().statusCode(200);
        given().get("/v2/models/nope").then().statusCode(404).contentType(ContentType.JSON)
                .body("error", startsWith("Model 'nope' is not served here; the models are [arith, identity_bool,"));
        given().get("/v2/models/nope/ready").then().statusCode(404).body("error", startsWith("Model 'nope'"));
        given().get("/v2/models/arith/versions/2").then().statusCode(404)
                .body("error", equalTo("Model 'arith' has no version '2'; its one version is 1"));
        given().contentType(ContentType.JSON).body("{}").post("/v2/models/nope/infer").then().statusCode(404)
                .body("error", startsWith("Model 'nope' is not served here"));
        given().get("/v2/models/arith/infer").then().statusCode(404)
                .body("error", equalTo("GET /v2/models/arith/infer is not an endpoint of the Open Inference Protocol here"));
    }

    // --- JSON tensors --------------------------------------------------------------------------------------------

    /** Each datatype's data as a request writes it, and as the response must give it back. */
    static final Map<String, String> JSON_DATA = Map.of(
            "BOOL", "[[true, false, true], [false, false, true]]",
            "UINT8", "[0, 255, 7, 1, 2, 3]",
            "INT8", "[-128, 127, 0, 1, -1, 5]",
            "INT16", "[-32768, 32767, 0, 1, -1, 5]",
            "INT32", "[-2147483648, 2147483647, 0, 1, -1, 5]",
            "INT64", "[-9223372036854775808, 9223372036854775807, 0, 1, -1, 5]",
            "FP32", "[[1.5, -2.25, 0], [3.4028235E38, 1.0E-5, 7]]",
            "FP64", "[1.5, -2.25, 0, 1.7976931348623157E308, 1.0E-300, 7]");

    @Test
    void everyDatatypeWithAJsonFormRoundTripsFlatOrNested() {
        JSON_DATA.forEach((datatype, data) -> {
            String model = "identity_" + datatype.toLowerCase();
            String body = "{\"id\": \"req-" + datatype
                    + "\", \"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \""
                    + datatype + "\", \"data\": " + data + "}]}";
            Response response = given().contentType(ContentType.JSON).body(body).post("/v2/models/" + model + "/infer");
            response.then().statusCode(200).contentType(ContentType.JSON);
            JsonObject answer = new JsonObject(response.asString());
            assertEquals(model, answer.getString("model_name"));
            assertEquals("1", answer.getString("model_version"));
            assertEquals("req-" + datatype, answer.getString("id"), "the request's id comes back");
            JsonObject output = answer.getJsonArray("outputs").getJsonObject(0);
            assertEquals("y", output.getString("name"));
            assertEquals(datatype, output.getString("datatype"));
            assertEquals(new JsonArray(List.of(2, 3)), output.getJsonArray("shape"));
            assertEquals(flat(new JsonArray(data)), flat(output.getJsonArray("data")), datatype + " comes back flat");
        });
    }

    /** Flattens nested arrays, each number as its exact decimal value: 0 and 0.0 are the same FP32. */
    private static List<String> flat(JsonArray data) {
        List<String> values = new java.util.ArrayList<>();
        for (Object value : data) {
            if (value instanceof JsonArray nested) {
                values.addAll(flat(nested));
            } else if (value instanceof Number number) {
                values.add(new java.math.BigDecimal(number.toString()).stripTrailingZeros().toPlainString());
            } else {
                values.add(String.valueOf(value));
            }
        }
        return values;
    }

    @Test
    void dataMayComeBeforeTheShapeAndDatatype() {
        String body = "{\"inputs\": [{\"data\": [1, 2, 3], \"name\": \"x\", \"datatype\": \"INT32\", \"shape\": [1, 3]}]}";
        given().contentType(ContentType.JSON).body(body).post("/v2/models/identity_int32/infer").then().statusCode(200)
                .body("outputs[0].data", contains(1, 2, 3)).body("outputs[0].shape", contains(1, 3));
    }

    @Test
    void severalInputsAndTheOutputsTheRequestNames() {
        String inputs = "\"inputs\": [{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]},"
                + " {\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [[10, 20], [30, 40]]}]";
        given().contentType(ContentType.JSON).body("{" + inputs + "}").post("/v2/models/arith/infer").then()
                .statusCode(200)
                .body("outputs.name", contains("sum", "product"))
                .body("outputs[0].data", contains(11.0f, 22.0f, 33.0f, 44.0f))
                .body("outputs[1].data", contains(10.0f, 40.0f, 90.0f, 160.0f));
        given().contentType(ContentType.JSON).body("{" + inputs + ", \"outputs\": [{\"name\": \"product\"}]}")
                .post("/v2/models/arith/infer").then().statusCode(200)
                .body("outputs.name", contains("product"))
                .body("outputs[0].data", contains(10.0f, 40.0f, 90.0f, 160.0f));
    }

    // --- binary tensors ------------------------------------------------------------------------------------------

    @Test
    void everyRunnableDatatypeRoundTripsAsBinaryData() {
        Random random = new Random(13);
        RUNNABLE.forEach((datatype, dtype) -> {
            byte[] tensor = new byte[6 * dtype.byteSize()];
            random.nextBytes(tensor);
            if (dtype == DType.BOOL) {
                for (int i = 0; i < tensor.length; i++) {
                    tensor[i] = (byte) (tensor[i] & 1);
                }
            }
            String header = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"" + datatype
                    + "\", \"parameters\": {\"binary_data_size\": " + tensor.length + "}}],"
                    + " \"outputs\": [{\"name\": \"y\", \"parameters\": {\"binary_data\": true}}]}";
            Response response = given().contentType("application/octet-stream")
                    .header("Inference-Header-Content-Length", header.getBytes(StandardCharsets.UTF_8).length)
                    .body(concat(header, tensor)).post("/v2/models/identity_" + datatype.toLowerCase() + "/infer");
            response.then().statusCode(200).contentType("application/octet-stream");
            byte[] body = response.asByteArray();
            int length = Integer.parseInt(response.header("Inference-Header-Content-Length"));
            JsonObject answer = new JsonObject(new String(body, 0, length, StandardCharsets.UTF_8));
            JsonObject output = answer.getJsonArray("outputs").getJsonObject(0);
            assertEquals(datatype, output.getString("datatype"));
            assertEquals(tensor.length, output.getJsonObject("parameters").getInteger("binary_data_size"));
            assertEquals(null, output.getValue("data"), "a binary output has no JSON data");
            assertArrayEquals(tensor, java.util.Arrays.copyOfRange(body, length, body.length), datatype + " bytes");
        });
    }

    @Test
    void binaryDataOutputMakesEveryOutputBinaryAndAnOutputMayStillAskForJson() {
        byte[] a = floats(1, 2, 3, 4);
        byte[] b = floats(10, 20, 30, 40);
        String header = "{\"parameters\": {\"binary_data_output\": true}, \"inputs\": ["
                + "{\"name\": \"a\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 16}},"
                + "{\"name\": \"b\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": [10, 20, 30, 40]}],"
                + " \"outputs\": [{\"name\": \"sum\"}, {\"name\": \"product\", \"parameters\": {\"binary_data\": false}}]}";
        Response response = given().contentType("application/octet-stream")
                .header("Inference-Header-Content-Length", header.length()).body(concat(header, a))
                .post("/v2/models/arith/infer");
        response.then().statusCode(200);
        byte[] body = response.asByteArray();
        int length = Integer.parseInt(response.header("Inference-Header-Content-Length"));
        JsonObject answer = new JsonObject(new String(body, 0, length, StandardCharsets.UTF_8));
        assertEquals(16, answer.getJsonArray("outputs").getJsonObject(0).getJsonObject("parameters")
                .getInteger("binary_data_size"));
        assertEquals(new JsonArray(List.of(10.0, 40.0, 90.0, 160.0)),
                answer.getJsonArray("outputs").getJsonObject(1).getJsonArray("data"));
        assertArrayEquals(floats(11, 22, 33, 44), java.util.Arrays.copyOfRange(body, length, body.length));
        assertEquals(b.length, 16);
    }

    @Test
    void fp16TravelsAsBinaryOnly() {
        given().contentType(ContentType.JSON).body(json("FP16", "[2, 3]", "[1, 2, 3, 4, 5, 6]"))
                .post("/v2/models/identity_fp16/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x' is FP16, which JSON does not carry: send it as binary data"
                        + " (parameters.binary_data_size)"));
        byte[] tensor = new byte[12];
        String header = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP16\","
                + " \"parameters\": {\"binary_data_size\": 12}}]}";
        given().contentType("application/octet-stream").header("Inference-Header-Content-Length", header.length())
                .body(concat(header, tensor)).post("/v2/models/identity_fp16/infer").then().statusCode(400)
                .body("error", equalTo("An output is FP16, which JSON does not carry: ask for it as binary data"
                        + " (parameters.binary_data=true)"));
    }

    // --- bad requests --------------------------------------------------------------------------------------------

    @Test
    void aBadDatatypeIs400WithAnError() {
        given().contentType(ContentType.JSON).body(json("FP33", "[1, 3]", "[1, 2, 3]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400).contentType(ContentType.JSON)
                .body("error", equalTo("The input 'x' has datatype 'FP33', which is not one of BOOL, UINT8, UINT16,"
                        + " UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64"));
        given().contentType(ContentType.JSON).body(json("BYTES", "[1, 3]", "[\"a\", \"b\", \"c\"]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", startsWith("The input 'x' is BYTES: string tensors are not supported"));
    }

    @Test
    void aDatatypeOtherThanTheModelsIs400NamingBoth() {
        given().contentType(ContentType.JSON).body(json("INT64", "[1, 3]", "[1, 2, 3]"))
                .post("/v2/models/identity_int32/infer").then().statusCode(400)
                .body("error", containsString("x: I32[?, 3]"));
        // the unsigned types parse and are checked, though no model here takes them
        given().contentType(ContentType.JSON).body(json("UINT64", "[1, 3]", "[0, 18446744073709551615, 1]"))
                .post("/v2/models/identity_int64/infer").then().statusCode(400)
                .body("error", containsString("x: I64[?, 3]"));
        given().contentType(ContentType.JSON).body(json("UINT16", "[1, 3]", "[0, 65535, 1]"))
                .post("/v2/models/identity_int16/infer").then().statusCode(400)
                .body("error", containsString("x: I16[?, 3]"));
    }

    @Test
    void valuesOutsideTheirDatatypeAre400() {
        Map<String, String> cases = Map.of(
                "INT8", "[1, 128, 0]", "UINT8", "[1, -1, 0]", "INT16", "[1, 32768, 0]", "UINT16", "[1, 65536, 0]",
                "INT32", "[1, 2147483648, 0]", "UINT32", "[1, 4294967296, 0]", "INT64", "[1, 9223372036854775808, 0]",
                "UINT64", "[1, 18446744073709551616, 0]");
        cases.forEach((datatype, data) -> given().contentType(ContentType.JSON).body(json(datatype, "[1, 3]", data))
                .post("/v2/models/identity_int8/infer").then().statusCode(400)
                .body("error", containsString("The input 'x' is " + datatype + ": its data holds "))
                .body("error", containsString(", outside the range of " + datatype)));
        given().contentType(ContentType.JSON).body(json("INT32", "[1, 3]", "[1, 2.5, 0]"))
                .post("/v2/models/identity_int32/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x' is INT32: its data holds 2.5, not an integer"));
        given().contentType(ContentType.JSON).body(json("BOOL", "[1, 3]", "[true, 1, false]"))
                .post("/v2/models/identity_bool/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x' is BOOL: its data holds 1, not true or false"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1, 3]", "[1, \"2\", 3]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x' is FP32: its data holds 2, not a number"));
    }

    @Test
    void shapeAndDataMustAgree() {
        given().contentType(ContentType.JSON).body(json("FP32", "[2, 3]", "[1, 2, 3, 4, 5]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x''s data holds 5 elements, but its shape holds 6"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1, 3]", "[1, 2, 3, 4]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x''s data holds more than the 3 elements of its shape"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1, -3]", "[1, 2, 3]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", equalTo("The input 'x' has shape [1, -3]: a dimension is 0 or more"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1000000, 1000000]", "[1, 2, 3]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", startsWith("The input 'x' has shape [1000000, 1000000], 1000000000000 elements, more than"
                        + " its JSON data holds"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1, 4]", "[1, 2, 3, 4]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", containsString("x: F32[?, 3]"));
    }

    @Test
    void malformedRequestsAre400() {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"inputs\": [", "The body is not valid JSON: ");
        cases.put("[]", "The body is not a JSON object");
        cases.put("{}", "The request has no inputs");
        cases.put("{\"inputs\": [{\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}", "An input has no name");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\"}]}",
                "The input 'x' has no data: give data, parameters.binary_data_size or parameters.shared_memory_region");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"data\": [1, 2, 3]}]}",
                "The input 'x' has no datatype: give one of BOOL,");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
                "The input 'x' has no shape");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]},"
                + " {\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
                "The input 'x' is given twice");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": \"1x3\", \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
                "The input's shape is not an array");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": 1}]}",
                "The input 'x''s data is not an array");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}],"
                + " \"outputs\": [{\"name\": \"z\"}]}", "Model 'identity_fp32' has no output 'z'; its outputs are [y]");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}],"
                + " \"outputs\": [{\"name\": \"y\", \"parameters\": {\"classification\": 2}}]}",
                "The classification extension is not supported");
        cases.put("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3],"
                + " \"parameters\": {\"binary_data_size\": 12}}]}", "The input 'x' gives its elements more than once");
        cases.put("{\"inputs\": [{\"name\": \"y\", \"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
                "'y'");
        cases.forEach((body, error) -> given().contentType(ContentType.JSON).body(body)
                .post("/v2/models/identity_fp32/infer").then().statusCode(400).contentType(ContentType.JSON)
                .body("error", containsString(error)));
    }

    @Test
    void badBinaryFramingIs400() {
        String header = "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\","
                + " \"parameters\": {\"binary_data_size\": 12}}]}";
        byte[] twelve = floats(1, 2, 3);
        Map<String, Object[]> cases = new java.util.LinkedHashMap<>();
        cases.put("header longer than the body", new Object[] { 100_000, concat(header, twelve),
                "Inference-Header-Content-Length is '100000', but the body holds " });
        cases.put("header length not a number", new Object[] { "ten", concat(header, twelve),
                "Inference-Header-Content-Length is 'ten'" });
        cases.put("truncated tensor", new Object[] { header.length(), concat(header, floats(1, 2)),
                "The input 'x''s 12 bytes of binary data are not all in the body: 8 bytes are left" });
        cases.put("extra bytes", new Object[] { header.length(), concat(header, floats(1, 2, 3, 4)),
                "4 bytes of binary data follow the inputs' binary_data_size: the body holds more than its inputs" });
        cases.put("header cut inside its JSON", new Object[] { header.length() - 5, concat(header, twelve),
                "The body is not valid JSON" });
        String wrongSize = header.replace("\"binary_data_size\": 12", "\"binary_data_size\": 8");
        cases.put("size not the shape's", new Object[] { wrongSize.length(), concat(wrongSize, floats(1, 2)),
                "The input 'x' gives binary_data_size 8, but its shape of FP32 is 12 bytes" });
        cases.forEach((what, c) -> given().contentType("application/octet-stream")
                .header("Inference-Header-Content-Length", String.valueOf(c[0])).body((byte[]) c[1])
                .post("/v2/models/identity_fp32/infer").then().statusCode(400)
                .body("error", containsString((String) c[2])));
        // garbage bytes after a valid request: still a 400, and the server answers the next request rightly
        byte[] garbage = new byte[4096];
        new Random(7).nextBytes(garbage);
        given().contentType("application/octet-stream").body(garbage).post("/v2/models/identity_fp32/infer").then()
                .statusCode(400).body("error", startsWith("The body is not"));
        given().contentType(ContentType.JSON).body(json("FP32", "[1, 3]", "[1, 2, 3]"))
                .post("/v2/models/identity_fp32/infer").then().statusCode(200)
                .body("outputs[0].data", contains(1.0f, 2.0f, 3.0f));
    }

    @Test
    void clientSharedMemoryIsOffByDefault() {
        given().contentType(ContentType.JSON).body("{\"key\": \"/region\", \"offset\": 0, \"byte_size\": 64}")
                .post("/v2/systemsharedmemory/region/r/register").then().statusCode(403)
                .body("error", startsWith("Client shared memory is off: set"
                        + " quarkus.model-sharing.inference-protocol.allow-client-shm=true"));
        given().get("/v2/systemsharedmemory/status").then().statusCode(403);
        String body = "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\","
                + " \"parameters\": {\"shared_memory_region\": \"r\", \"shared_memory_byte_size\": 12}}]}";
        given().contentType(ContentType.JSON).body(body).post("/v2/models/identity_fp32/infer").then().statusCode(403)
                .body("error", startsWith("Client shared memory is off"));
    }

}
