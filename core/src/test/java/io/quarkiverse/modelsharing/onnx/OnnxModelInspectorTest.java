package io.quarkiverse.modelsharing.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

class OnnxModelInspectorTest {

    @Test
    void readsInputsOutputsAndHeader(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("affine.onnx");
        Files.write(file, TinyModels.affine());
        OnnxModelInfo info = OnnxModelInspector.inspect(file);
        assertEquals(8, info.irVersion());
        assertEquals(Map.of("", 17L), info.opsets());
        assertEquals("quarkus-model-sharing", info.producer());
        assertEquals(List.of(new TensorSpec("x", DType.F32, new long[] { -1, 4 })), info.inputs());
        assertEquals(List.of(new TensorSpec("y", DType.F32, new long[] { -1, 2 })), info.outputs());
        assertTrue(info.initializerBytes() > 40, "two initializers of 8 and 2 floats");
        assertEquals("x: F32[?, 4]", info.inputs().get(0).toString());
    }

    @Test
    void rejectsFilesThatAreNotModels() {
        assertEquals("t.onnx is not a valid ONNX model: it is empty",
                assertThrows(InvalidModelException.class, () -> OnnxModelInspector.inspect(new byte[0], "t.onnx"))
                        .getMessage());
        assertEquals("t.onnx is not a valid ONNX model: malformed protobuf (wire type 4 at byte 3)",
                assertThrows(InvalidModelException.class,
                        () -> OnnxModelInspector.inspect("hello world".getBytes(StandardCharsets.UTF_8), "t.onnx"))
                        .getMessage());
        byte[] model = TinyModels.affine();
        InvalidModelException truncated = assertThrows(InvalidModelException.class,
                () -> OnnxModelInspector.inspect(Arrays.copyOf(model, model.length / 2), "t.onnx"));
        assertTrue(truncated.getMessage().startsWith("t.onnx is not a valid ONNX model: malformed protobuf ("),
                truncated.getMessage());
        // A well-formed protobuf that is not a model: a lone ir_version field.
        assertEquals("t.onnx is not a valid ONNX model: it has no graph",
                assertThrows(InvalidModelException.class, () -> OnnxModelInspector.inspect(new byte[] { 8, 7 }, "t.onnx"))
                        .getMessage());
    }

    @Test
    void randomBytesNeverEscapeAsAnythingButInvalidModel() {
        Random random = new Random(42);
        byte[] model = TinyModels.affine();
        for (int i = 0; i < 20_000; i++) {
            byte[] input = i % 2 == 0 ? new byte[random.nextInt(64)] : model.clone();
            if (i % 2 == 0) {
                random.nextBytes(input);
            } else {
                input[random.nextInt(input.length)] = (byte) random.nextInt();
            }
            try {
                OnnxModelInspector.inspect(input, "fuzz");
            } catch (InvalidModelException expected) {
                assertTrue(expected.getMessage().startsWith("fuzz"), expected.getMessage());
            }
        }
    }
}
