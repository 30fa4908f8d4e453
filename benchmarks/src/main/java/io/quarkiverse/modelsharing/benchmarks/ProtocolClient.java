package io.quarkiverse.modelsharing.benchmarks;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

/**
 * A benchmark client of the Open Inference Protocol (KServe v2 REST) for a model with one FP32 input {@code x} and one
 * FP32 output {@code y}, both of shape [n]: each call takes the input as a {@code float[]} and returns the output as a
 * new {@code float[]}, so that what the client does to put a tensor on the wire and take it off is in its time. JSON
 * tensors and binary tensor data go in the HTTP bodies; with {@link Regions}, the tensors go through two
 * shared-memory files that the client writes and reads, and the bodies carry only their names.
 * <p>
 * The JSON is written and read with Jackson's streaming API, as the server does. Every call fails on any status but
 * 200, naming the status and the server's error.
 */
final class ProtocolClient {

    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final Duration TIMEOUT = Duration.ofMinutes(5);

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final JsonFactory json = new JsonFactory();
    private final URI base;
    private final URI infer;
    private long requestBytes;
    private long responseBytes;
    private long clientNanos;

    ProtocolClient(int port, String model) {
        this.base = URI.create("http://localhost:" + port);
        this.infer = base.resolve("/v2/models/" + model + "/infer");
    }

    /** The request body of the last call, in bytes. */
    long requestBytes() {
        return requestBytes;
    }

    /** The response body of the last call, in bytes. */
    long responseBytes() {
        return responseBytes;
    }

    /**
     * What the last call spent in this client putting the input on the wire and taking the output off it (encoding,
     * copies, writes and reads of the regions), without the HTTP exchange, in nanoseconds.
     */
    long clientNanos() {
        return clientNanos;
    }

    /** JSON tensors both ways: the input's {@code data} written as numbers, the output's read back from the JSON. */
    float[] inferJson(float[] x) throws IOException, InterruptedException {
        long start = System.nanoTime();
        Body body = new Body(x.length * 12L + 128);
        try (JsonGenerator out = json.createGenerator(body)) {
            out.writeStartObject();
            out.writeArrayFieldStart("inputs");
            startInput(out, x.length);
            out.writeArrayFieldStart("data");
            for (float value : x) {
                out.writeNumber(value);
            }
            out.writeEndArray();
            out.writeEndObject();
            out.writeEndArray();
            out.writeEndObject();
        }
        long sending = System.nanoTime();
        byte[] answer = send(body.publisher(), body.size(), "application/json", null).body();
        long received = System.nanoTime();
        responseBytes = answer.length;
        float[] y = jsonOutput(answer, x.length);
        clientNanos = sending - start + System.nanoTime() - received;
        return y;
    }

    /** Binary tensor data both ways: the input's bytes after a JSON header, and {@code binary_data_output}. */
    float[] inferBinary(float[] x) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long bytes = (long) x.length * Float.BYTES;
        Body header = new Body(256);
        try (JsonGenerator out = json.createGenerator(header)) {
            out.writeStartObject();
            out.writeObjectFieldStart("parameters");
            out.writeBooleanField("binary_data_output", true);
            out.writeEndObject();
            out.writeArrayFieldStart("inputs");
            startInput(out, x.length);
            out.writeObjectFieldStart("parameters");
            out.writeNumberField("binary_data_size", bytes);
            out.writeEndObject();
            out.writeEndObject();
            out.writeEndArray();
            out.writeEndObject();
        }
        byte[] request = new byte[Math.toIntExact(header.size() + bytes)];
        header.copyTo(request);
        MemorySegment.copy(x, 0, MemorySegment.ofArray(request), FLOAT, header.size(), x.length);
        long sending = System.nanoTime();
        HttpResponse<byte[]> response = send(HttpRequest.BodyPublishers.ofByteArray(request), request.length,
                "application/octet-stream", Integer.toString(header.size()));
        long received = System.nanoTime();
        byte[] answer = response.body();
        responseBytes = answer.length;
        int headerLength = Integer.parseInt(response.headers().firstValue("Inference-Header-Content-Length")
                .orElseThrow(() -> new IOException("a binary answer without Inference-Header-Content-Length: "
                        + new String(answer, 0, Math.min(answer.length, 500), StandardCharsets.UTF_8))));
        if (answer.length - headerLength != bytes) {
            throw new IOException("the answer holds " + (answer.length - headerLength) + " bytes of tensor data, not "
                    + bytes + ": " + new String(answer, 0, headerLength, StandardCharsets.UTF_8));
        }
        float[] y = new float[x.length];
        MemorySegment.copy(MemorySegment.ofArray(answer), FLOAT, headerLength, y, 0, y.length);
        clientNanos = sending - start + System.nanoTime() - received;
        return y;
    }

    /** Names the regions of {@code regions} for the input and the output: their bytes never enter the bodies. */
    float[] inferThroughRegions(Regions regions, float[] x) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long bytes = (long) x.length * Float.BYTES;
        MemorySegment.copy(x, 0, regions.input, FLOAT, 0, x.length);
        Body body = new Body(512);
        try (JsonGenerator out = json.createGenerator(body)) {
            out.writeStartObject();
            out.writeArrayFieldStart("inputs");
            startInput(out, x.length);
            regionParameters(out, Regions.INPUT, bytes);
            out.writeEndObject();
            out.writeEndArray();
            out.writeArrayFieldStart("outputs");
            out.writeStartObject();
            out.writeStringField("name", "y");
            regionParameters(out, Regions.OUTPUT, bytes);
            out.writeEndObject();
            out.writeEndArray();
            out.writeEndObject();
        }
        long sending = System.nanoTime();
        responseBytes = send(body.publisher(), body.size(), "application/json", null).body().length;
        long received = System.nanoTime();
        float[] y = new float[x.length];
        MemorySegment.copy(regions.output, FLOAT, 0, y, 0, y.length);
        clientNanos = sending - start + System.nanoTime() - received;
        return y;
    }

    private static void startInput(JsonGenerator out, int elements) throws IOException {
        out.writeStartObject();
        out.writeStringField("name", "x");
        out.writeArrayFieldStart("shape");
        out.writeNumber(elements);
        out.writeEndArray();
        out.writeStringField("datatype", "FP32");
    }

    private static void regionParameters(JsonGenerator out, String region, long bytes) throws IOException {
        out.writeObjectFieldStart("parameters");
        out.writeStringField("shared_memory_region", region);
        out.writeNumberField("shared_memory_byte_size", bytes);
        out.writeEndObject();
    }

    /** The data of the output {@code y} of a JSON answer. */
    private float[] jsonOutput(byte[] answer, int elements) throws IOException {
        try (JsonParser in = json.createParser(answer)) {
            while (in.nextToken() != null) {
                if (in.currentToken() == JsonToken.FIELD_NAME && in.currentName().equals("data")) {
                    if (in.nextToken() != JsonToken.START_ARRAY) {
                        break;
                    }
                    float[] y = new float[elements];
                    int i = 0;
                    while (in.nextToken() != JsonToken.END_ARRAY) {
                        if (i == elements) {
                            throw new IOException("the answer's data holds more than " + elements + " elements");
                        }
                        y[i++] = in.getFloatValue();
                    }
                    if (i != elements) {
                        throw new IOException("the answer's data holds " + i + " elements, not " + elements);
                    }
                    return y;
                }
            }
        }
        throw new IOException("the answer has no output data: "
                + new String(answer, 0, Math.min(answer.length, 500), StandardCharsets.UTF_8));
    }

    private HttpResponse<byte[]> send(HttpRequest.BodyPublisher body, long bytes, String contentType, String headerLength)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(infer).timeout(TIMEOUT).header("Content-Type", contentType)
                .POST(body);
        if (headerLength != null) {
            request.header("Inference-Header-Content-Length", headerLength);
        }
        requestBytes = bytes;
        HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != 200) {
            throw new IOException("POST " + infer + " answered " + response.statusCode() + ": "
                    + new String(response.body(), 0, Math.min(response.body().length, 500), StandardCharsets.UTF_8));
        }
        return response;
    }

    /** POSTs a small JSON body to {@code path}; fails on any status but 200. */
    void post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(TIMEOUT)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("POST " + path + " answered " + response.statusCode() + ": " + response.body());
        }
    }

    /** The status of GET {@code path}, or -1 while nothing listens. */
    int status(String path) throws InterruptedException {
        try {
            return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException notListening) {
            return -1;
        }
    }

    /** A body written in place, handed to the HTTP client without another copy. */
    private static final class Body extends ByteArrayOutputStream {
        Body(long capacity) {
            super(Math.toIntExact(Math.min(capacity, Integer.MAX_VALUE - 16)));
        }

        HttpRequest.BodyPublisher publisher() {
            return HttpRequest.BodyPublishers.ofByteArray(buf, 0, count);
        }

        void copyTo(byte[] target) {
            System.arraycopy(buf, 0, target, 0, count);
        }
    }

    /**
     * Two files in /dev/shm, mapped here and registered with the server as the system shared-memory regions
     * {@value #INPUT} and {@value #OUTPUT}, each of {@code bytes}; closing unregisters them, unmaps and deletes the
     * files.
     */
    static final class Regions implements AutoCloseable {

        static final String INPUT = "bench-in";
        static final String OUTPUT = "bench-out";

        private final ProtocolClient client;
        private final Arena arena = Arena.ofShared();
        private final Path inputFile;
        private final Path outputFile;
        final MemorySegment input;
        final MemorySegment output;
        private boolean registered;

        Regions(ProtocolClient client, long bytes) throws IOException, InterruptedException {
            this.client = client;
            String prefix = "qms-bench-" + ProcessHandle.current().pid() + "-";
            inputFile = Path.of("/dev/shm", prefix + "in");
            outputFile = Path.of("/dev/shm", prefix + "out");
            try {
                input = map(inputFile, bytes);
                output = map(outputFile, bytes);
                registered = true;
                register(INPUT, inputFile, bytes);
                register(OUTPUT, outputFile, bytes);
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        }

        private MemorySegment map(Path file, long bytes) throws IOException {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE)) {
                MemorySegment segment = channel.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
                segment.fill((byte) 0); // the pages exist before the first call, as a client's long-lived region's do
                return segment;
            }
        }

        private void register(String region, Path file, long bytes) throws IOException, InterruptedException {
            client.post("/v2/systemsharedmemory/region/" + region + "/register", "{\"key\": \"/" + file.getFileName()
                    + "\", \"offset\": 0, \"byte_size\": " + bytes + "}");
        }

        @Override
        public void close() throws IOException, InterruptedException {
            try {
                if (registered) {
                    client.post("/v2/systemsharedmemory/unregister", "{}");
                }
            } finally {
                arena.close();
                Files.deleteIfExists(inputFile);
                Files.deleteIfExists(outputFile);
            }
        }
    }
}
