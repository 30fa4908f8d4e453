package io.quarkiverse.modelsharing.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.google.protobuf.ByteString;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkiverse.modelsharing.grpc.v2.GRPCInferenceServiceGrpc;
import io.quarkiverse.modelsharing.grpc.v2.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import io.quarkiverse.modelsharing.grpc.v2.InferTensorContents;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferRequest;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferRequest.InferInputTensor;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferResponse;
import io.quarkiverse.modelsharing.grpc.v2.ModelMetadataRequest;
import io.quarkiverse.modelsharing.grpc.v2.ModelMetadataResponse;
import io.quarkiverse.modelsharing.grpc.v2.ModelReadyRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerLiveRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerMetadataRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerReadyRequest;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkus.test.QuarkusUnitTest;

/**
 * The Open Inference Protocol's GRPCInferenceService, called with a grpc-java stub generated from the protocol's
 * grpc_predict_v2.proto: every RPC, typed and raw contents of every datatype ONNX Runtime runs, and bad requests.
 */
class InferenceGrpcServiceTest {

    static final Map<String, DType> RUNNABLE = Map.of("BOOL", DType.BOOL, "UINT8", DType.U8, "INT8", DType.I8, "INT16",
            DType.I16, "INT32", DType.I32, "INT64", DType.I64, "FP16", DType.F16, "FP32", DType.F32, "FP64", DType.F64);

    @RegisterExtension
    static final QuarkusUnitTest app = configure(new QuarkusUnitTest()
            .withApplicationRoot(jar -> {
                // the module's classes, as an application that depends on it has them
                jar.addPackages(true, InferenceGrpcService.class.getPackage());
                RUNNABLE.forEach((name, dtype) -> jar.addAsResource(new ByteArrayAsset(TinyModels.identity(dtype)),
                        "models/identity_" + name.toLowerCase() + ".onnx"));
            })
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true"));

    private static QuarkusUnitTest configure(QuarkusUnitTest test) {
        RUNNABLE.keySet().forEach(name -> test.overrideConfigKey("quarkus.model-sharing.models.identity_"
                + name.toLowerCase() + ".path", "classpath:models/identity_" + name.toLowerCase() + ".onnx"));
        return test;
    }

    static ManagedChannel channel;
    static GRPCInferenceServiceBlockingStub stub;

    @BeforeAll
    static void connect() {
        int port = ConfigProvider.getConfig().getOptionalValue("quarkus.grpc.server.test-port", Integer.class).orElse(9001);
        channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void disconnect() throws InterruptedException {
        channel.shutdownNow().awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Test
    void healthAndMetadata() {
        assertTrue(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
        assertTrue(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
        assertEquals("quarkus-model-sharing", stub.serverMetadata(ServerMetadataRequest.getDefaultInstance()).getName());
        assertTrue(stub.modelReady(ModelReadyRequest.newBuilder().setName("identity_int64").build()).getReady());
        ModelMetadataResponse metadata = stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("identity_int64")
                .setVersion("1").build());
        assertEquals("identity_int64", metadata.getName());
        assertEquals(List.of("1"), metadata.getVersionsList());
        assertEquals("x", metadata.getInputs(0).getName());
        assertEquals("INT64", metadata.getInputs(0).getDatatype());
        assertEquals(List.of(-1L, 3L), metadata.getInputs(0).getShapeList());
        assertEquals("y", metadata.getOutputs(0).getName());
    }

    @Test
    void everyRunnableDatatypeRoundTripsAsRawContents() {
        Random random = new Random(11);
        RUNNABLE.forEach((datatype, dtype) -> {
            byte[] bytes = new byte[6 * dtype.byteSize()];
            random.nextBytes(bytes);
            if (dtype == DType.BOOL) {
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] &= 1;
                }
            }
            ModelInferResponse response = stub.modelInfer(ModelInferRequest.newBuilder()
                    .setModelName("identity_" + datatype.toLowerCase()).setId("raw-" + datatype)
                    .addInputs(InferInputTensor.newBuilder().setName("x").setDatatype(datatype).addShape(2).addShape(3))
                    .addRawInputContents(ByteString.copyFrom(bytes)).build());
            assertEquals("raw-" + datatype, response.getId());
            assertEquals("1", response.getModelVersion());
            assertEquals(datatype, response.getOutputs(0).getDatatype());
            assertEquals(List.of(2L, 3L), response.getOutputs(0).getShapeList());
            assertArrayEquals(bytes, response.getRawOutputContents(0).toByteArray(), datatype);
        });
    }

    @Test
    void typedContentsOfEachDatatype() {
        Map<String, InferTensorContents> contents = Map.of(
                "BOOL", InferTensorContents.newBuilder().addAllBoolContents(List.of(true, false, true, false, false, true))
                        .build(),
                "UINT8", InferTensorContents.newBuilder().addAllUintContents(List.of(0, 255, 7, 1, 2, 3)).build(),
                "INT8", InferTensorContents.newBuilder().addAllIntContents(List.of(-128, 127, 0, 1, -1, 5)).build(),
                "INT16", InferTensorContents.newBuilder().addAllIntContents(List.of(-32768, 32767, 0, 1, -1, 5)).build(),
                "INT32", InferTensorContents.newBuilder().addAllIntContents(List.of(Integer.MIN_VALUE, Integer.MAX_VALUE,
                        0, 1, -1, 5)).build(),
                "INT64", InferTensorContents.newBuilder().addAllInt64Contents(List.of(Long.MIN_VALUE, Long.MAX_VALUE, 0L,
                        1L, -1L, 5L)).build(),
                "FP32", InferTensorContents.newBuilder().addAllFp32Contents(List.of(1.5f, -2.25f, 0f, Float.MAX_VALUE,
                        1e-5f, 7f)).build(),
                "FP64", InferTensorContents.newBuilder().addAllFp64Contents(List.of(1.5, -2.25, 0.0, Double.MAX_VALUE,
                        1e-300, 7.0)).build());
        contents.forEach((datatype, values) -> {
            ModelInferResponse response = stub.modelInfer(ModelInferRequest.newBuilder()
                    .setModelName("identity_" + datatype.toLowerCase())
                    .addInputs(InferInputTensor.newBuilder().setName("x").setDatatype(datatype).addShape(2).addShape(3)
                            .setContents(values))
                    .build());
            assertArrayEquals(expectedBytes(datatype, values), response.getRawOutputContents(0).toByteArray(), datatype);
        });
    }

    /** The little-endian bytes of typed contents, written here independently of the service. */
    private static byte[] expectedBytes(String datatype, InferTensorContents values) {
        ByteBuffer out = ByteBuffer.allocate(6 * RUNNABLE.get(datatype).byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            switch (datatype) {
                case "BOOL" -> out.put((byte) (values.getBoolContents(i) ? 1 : 0));
                case "UINT8" -> out.put((byte) values.getUintContents(i));
                case "INT8" -> out.put((byte) values.getIntContents(i));
                case "INT16" -> out.putShort((short) values.getIntContents(i));
                case "INT32" -> out.putInt(values.getIntContents(i));
                case "INT64" -> out.putLong(values.getInt64Contents(i));
                case "FP32" -> out.putFloat(values.getFp32Contents(i));
                case "FP64" -> out.putDouble(values.getFp64Contents(i));
                default -> throw new IllegalArgumentException(datatype);
            }
        }
        return out.array();
    }

    @Test
    void badRequestsAreStatusesWithTheirReason() {
        InferInputTensor.Builder x = InferInputTensor.newBuilder().setName("x").setDatatype("FP32").addShape(1).addShape(3);
        expect(Status.Code.NOT_FOUND, "Model 'nope' is not served here; the models are [identity_bool,",
                ModelInferRequest.newBuilder().setModelName("nope").addInputs(x));
        expect(Status.Code.NOT_FOUND, "Model 'identity_fp32' has no version '7'; its one version is 1",
                ModelInferRequest.newBuilder().setModelName("identity_fp32").setModelVersion("7").addInputs(x));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x' has datatype 'FP33', which is not one of BOOL,",
                ModelInferRequest.newBuilder().setModelName("identity_fp32").addInputs(x.clone().setDatatype("FP33")
                        .setContents(InferTensorContents.newBuilder().addAllFp32Contents(List.of(1f, 2f, 3f)))));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x''s contents hold 2 elements, but its shape [1, 3] holds 3",
                ModelInferRequest.newBuilder().setModelName("identity_fp32").addInputs(x.clone()
                        .setContents(InferTensorContents.newBuilder().addAllFp32Contents(List.of(1f, 2f)))));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x' has 8 bytes of raw_input_contents, but its shape [1, 3] of"
                + " FP32 is 12 bytes",
                ModelInferRequest.newBuilder().setModelName("identity_fp32").addInputs(x)
                        .addRawInputContents(ByteString.copyFrom(new byte[8])));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x' is INT8: its contents hold 300, outside the range of INT8",
                ModelInferRequest.newBuilder().setModelName("identity_int8").addInputs(x.clone().setDatatype("INT8")
                        .setContents(InferTensorContents.newBuilder().addAllIntContents(List.of(1, 300, 3)))));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x' is FP16, which typed contents do not carry: send it in"
                + " raw_input_contents",
                ModelInferRequest.newBuilder().setModelName("identity_fp16")
                        .addInputs(x.clone().setDatatype("FP16")));
        expect(Status.Code.INVALID_ARGUMENT, "The request has 2 inputs but 1 raw_input_contents",
                ModelInferRequest.newBuilder().setModelName("identity_fp32").addInputs(x).addInputs(x.clone().setName("z"))
                        .addRawInputContents(ByteString.copyFrom(new byte[12])));
        expect(Status.Code.INVALID_ARGUMENT, "x: F32[?, 3]", ModelInferRequest.newBuilder().setModelName("identity_fp32")
                .addInputs(x.clone().clearShape().addShape(1).addShape(4))
                .addRawInputContents(ByteString.copyFrom(new byte[16])));
        expect(Status.Code.INVALID_ARGUMENT, "The input 'x' has shape [1, -3]: a dimension is 0 or more",
                ModelInferRequest.newBuilder().setModelName("identity_fp32")
                        .addInputs(x.clone().clearShape().addShape(1).addShape(-3)));
        expect(Status.Code.INVALID_ARGUMENT, "The request has no inputs",
                ModelInferRequest.newBuilder().setModelName("identity_fp32"));
        // the service still answers rightly after each refusal
        ModelInferResponse response = stub.modelInfer(ModelInferRequest.newBuilder().setModelName("identity_fp32")
                .addInputs(x.clone().setContents(InferTensorContents.newBuilder().addAllFp32Contents(List.of(1f, 2f, 3f))))
                .build());
        byte[] expected = java.util.Arrays.copyOf(expectedBytes("FP32", InferTensorContents.newBuilder()
                .addAllFp32Contents(List.of(1f, 2f, 3f, 0f, 0f, 0f)).build()), 12);
        assertArrayEquals(expected, response.getRawOutputContents(0).toByteArray(), "three floats, no more");
    }

    private void expect(Status.Code code, String message, ModelInferRequest.Builder request) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.modelInfer(request.build()));
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(message) || e.getStatus().getDescription().contains(message),
                e.getStatus().getDescription());
    }
}
