package io.quarkiverse.modelsharing.runtime.oip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.ClientRegion;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.vertx.core.buffer.Buffer;

/**
 * Request bodies a hostile client sends: each is refused or read without leaving a tensor allocated, without
 * allocating far more than the body holds, and without work that grows faster than the body.
 */
class InferMessageAttackTest {

    /** Counts the tensors it gives and refuses, as a quota would, any larger than {@code limit} bytes. */
    static final class CountingAllocator implements TensorAllocator {

        final List<Tensor> given = new ArrayList<>();
        final long limit;
        long largest;

        CountingAllocator(long limit) {
            this.limit = limit;
        }

        @Override
        public synchronized Tensor allocateUninitialized(DType dtype, long... shape) {
            long bytes = dtype.byteSize();
            for (long dim : shape) {
                bytes = Math.multiplyExact(bytes, dim);
            }
            largest = Math.max(largest, bytes);
            if (bytes > limit) {
                throw new TensorException("quota: " + bytes + " bytes asked, " + limit + " allowed");
            }
            Tensor tensor = Tensor.allocateUninitialized(dtype, shape);
            given.add(tensor);
            return tensor;
        }

        @Override
        public StorageKind kind() {
            return StorageKind.OFF_HEAP;
        }

        synchronized long live() {
            return given.stream().filter(tensor -> !tensor.isClosed()).count();
        }
    }

    private static InferMessage read(String body, CountingAllocator allocator, InferMessage.Regions regions) {
        return InferMessage.read(Buffer.buffer(body.getBytes(StandardCharsets.UTF_8)), null, false, allocator, regions);
    }

    private static InferMessage read(String body, CountingAllocator allocator) {
        return read(body, allocator, name -> {
            throw InferenceProtocolException.badRequest("no regions here");
        });
    }

    @Test
    void aSecondDataFieldLeavesNoTensorBehind() {
        CountingAllocator allocator = new CountingAllocator(1 << 20);
        String body = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": [1, 2],"
                + " \"data\": [3, 4]}]}";
        try (InferMessage message = read(body, allocator)) {
            assertEquals(4f, message.inputs.get(0).tensor.getFloat(1));
        } catch (InferenceProtocolException refused) {
            // refusing a duplicate field is as good as reading the last one
        }
        assertEquals(0, allocator.live(), "every tensor the message allocated is closed with it");
    }

    @Test
    void jsonDataIsMeasuredByItsOwnBytesNotTheHeaders() {
        CountingAllocator allocator = new CountingAllocator(Long.MAX_VALUE);
        // a 1 MB id pads the header; the data array holds one element while the shape claims 400 000 FP64
        String body = "{\"id\": \"" + "x".repeat(1 << 20) + "\", \"inputs\": [{\"name\": \"x\", \"shape\": [400000],"
                + " \"datatype\": \"FP64\", \"data\": [1]}]}";
        InferenceProtocolException refused = assertThrows(InferenceProtocolException.class, () -> read(body, allocator));
        assertTrue(refused.getMessage().contains("more than its JSON data holds"), refused.getMessage());
        assertEquals(0, allocator.largest, "nothing is allocated for a shape its data cannot fill");
    }

    @Test
    void aRegionInputLargerThanItsRegionIsRefusedBeforeAllocating() throws IOException {
        Path directory = Path.of("target");
        Path file = directory.resolve("attack-region-" + ProcessHandle.current().pid());
        Files.write(file, new byte[16]);
        try (ClientRegion region = ClientRegion.open(directory, "in", "/" + file.getFileName(), 0, 16)) {
            CountingAllocator allocator = new CountingAllocator(1 << 20);
            // 4 GB claimed from a 16-byte region: a quota-sized allocation for a body of a hundred bytes
            String body = "{\"inputs\": [{\"name\": \"x\", \"shape\": [1000000000], \"datatype\": \"FP32\","
                    + " \"parameters\": {\"shared_memory_region\": \"in\"}}]}";
            InferenceProtocolException refused = assertThrows(InferenceProtocolException.class,
                    () -> read(body, allocator, name -> region));
            assertTrue(refused.getMessage().contains("outside region 'in'"), refused.getMessage());
            assertEquals(0, allocator.largest, "nothing is allocated for a tensor the region cannot hold");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void manyInputsAreReadInTimeLinearInTheirNumber() {
        CountingAllocator allocator = new CountingAllocator(1 << 20);
        StringBuilder body = new StringBuilder("{\"inputs\": [");
        int inputs = 400_000;
        for (int i = 0; i < inputs; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\": \"i").append(i).append("\"}");
        }
        body.append("]}");
        // a hang guard, not a measure: comparing every name with every other takes hours for this body
        InferenceProtocolException refused = assertTimeoutPreemptively(Duration.ofMinutes(2),
                () -> assertThrows(InferenceProtocolException.class, () -> read(body.toString(), allocator)));
        assertTrue(refused.getMessage().contains("has no data"), refused.getMessage());
    }
}
