package io.quarkiverse.modelsharing.runtime.oip;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.quarkiverse.modelsharing.shm.ClientRegion;
import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.vertx.core.buffer.Buffer;

/**
 * The body of an infer request or response: a JSON header, then, with the binary tensor data extension, the bytes
 * of the tensors whose {@code binary_data_size} the header gives, in the header's order, little-endian and
 * row-major. {@code Inference-Header-Content-Length} says where the header ends.
 */
final class InferMessage implements AutoCloseable {

    static final String HEADER_LENGTH = "Inference-Header-Content-Length";
    static final String JSON_TYPE = "application/json";
    static final String BINARY_TYPE = "application/octet-stream";

    /** Where shared-memory regions named by a message are found. */
    interface Regions {

        /** The registered region, or a 4xx if it is unknown or client shared memory is off. */
        ClientRegion region(String name);
    }

    /** A body, and its header's length if binary data follows the header (-1 if the body is JSON only). */
    record Encoded(Buffer body, int headerLength) {

        String contentType() {
            return headerLength < 0 ? JSON_TYPE : BINARY_TYPE;
        }
    }

    String id;
    String modelName;
    String modelVersion;
    String error;
    boolean binaryDataOutput;
    final List<TensorEntry> inputs = new ArrayList<>();
    final List<TensorEntry> outputs = new ArrayList<>();

    /**
     * Reads a body.
     *
     * @param headerLength the {@code Inference-Header-Content-Length} header, or null if the whole body is JSON
     * @param response whether it is an infer response, whose tensors are its outputs, or a request, whose tensors
     *        are its inputs
     * @throws InferenceProtocolException (400) naming what is wrong; no tensor is left allocated then
     */
    static InferMessage read(Buffer body, String headerLength, boolean response, TensorAllocator allocator,
            Regions regions) {
        InferMessage message = new InferMessage();
        try {
            message.readBody(body, headerLength, response, allocator, regions);
            return message;
        } catch (RuntimeException e) {
            message.close();
            throw e;
        }
    }

    private void readBody(Buffer body, String headerLength, boolean response, TensorAllocator allocator,
            Regions regions) {
        ByteBuf all = body.getByteBuf();
        int length = all.readableBytes();
        int header = length;
        if (headerLength != null) {
            try {
                header = Integer.parseInt(headerLength.trim());
            } catch (NumberFormatException e) {
                header = -1;
            }
            if (header <= 0 || header > length) {
                throw InferenceProtocolException.badRequest(HEADER_LENGTH + " is '" + headerLength + "', but the body"
                        + " holds " + length + " bytes: it is the length of the JSON header, 1 to " + length);
            }
        }
        ByteBuf json = all.slice(all.readerIndex(), header);
        String kind = response ? "output" : "input";
        try (JsonParser parser = Json.parser(json)) {
            readHeader(parser, response);
            List<TensorEntry> tensors = response ? outputs : inputs;
            ByteBuf binary = all.slice(all.readerIndex() + header, length - header);
            for (TensorEntry entry : tensors) {
                fill(entry, kind, binary, json, allocator, regions);
            }
            if (binary.isReadable()) {
                throw InferenceProtocolException.badRequest(binary.readableBytes() + " bytes of binary data follow the "
                        + kind + "s' binary_data_size: the body holds more than its " + kind + "s");
            }
        } catch (JsonParseException e) {
            throw InferenceProtocolException.badRequest("The body is not valid JSON: " + e.getOriginalMessage()
                    + " at byte " + e.getLocation().getByteOffset());
        } catch (IOException e) {
            throw InferenceProtocolException.badRequest("The body cannot be read: " + e.getMessage());
        }
    }

    private void readHeader(JsonParser parser, boolean response) throws IOException {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
            throw InferenceProtocolException.badRequest("The body is not a JSON object");
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            parser.nextToken();
            switch (field) {
                case "id" -> id = parser.getValueAsString();
                case "model_name" -> modelName = parser.getValueAsString();
                case "model_version" -> modelVersion = parser.getValueAsString();
                case "error" -> error = parser.getValueAsString();
                case "parameters" -> readMessageParameters(parser);
                case "inputs" -> readEntries(parser, inputs, "input", !response);
                case "outputs" -> readEntries(parser, outputs, "output", response);
                default -> parser.skipChildren();
            }
        }
        if (parser.currentToken() != JsonToken.END_OBJECT || parser.nextToken() != null) {
            throw InferenceProtocolException.badRequest("The JSON header does not end with its object");
        }
        if (!response && inputs.isEmpty()) {
            throw InferenceProtocolException.badRequest("The request has no inputs");
        }
    }

    private void readMessageParameters(JsonParser parser) throws IOException {
        expectObject(parser, "parameters");
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            parser.nextToken();
            if (field.equals("binary_data_output")) {
                binaryDataOutput = bool(parser, "parameters.binary_data_output");
            } else {
                parser.skipChildren();
            }
        }
    }

    private void readEntries(JsonParser parser, List<TensorEntry> into, String kind, boolean tensors) throws IOException {
        if (parser.currentToken() != JsonToken.START_ARRAY) {
            throw InferenceProtocolException.badRequest("'" + kind + "s' is not an array");
        }
        // a set, not a scan of the list: a body of many small entries would make the scan quadratic
        Set<String> names = new HashSet<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
            TensorEntry entry = new TensorEntry();
            into.add(entry);
            readEntry(parser, entry, kind, tensors);
            if (entry.name == null) {
                throw InferenceProtocolException.badRequest("An " + kind + " has no name");
            }
            if (!names.add(entry.name)) {
                throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + " is given twice");
            }
        }
    }

    private static void readEntry(JsonParser parser, TensorEntry entry, String kind, boolean tensors) throws IOException {
        expectObject(parser, kind);
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken value = parser.nextToken();
            switch (field) {
                case "name" -> entry.name = text(parser, kind + " name");
                case "datatype" -> entry.datatype = text(parser, kind + " datatype");
                case "shape" -> entry.shape = shape(parser, entry, kind);
                case "parameters" -> readEntryParameters(parser, entry, kind);
                case "data" -> {
                    if (!tensors) {
                        parser.skipChildren();
                    } else if (value == JsonToken.START_ARRAY) {
                        // read once the whole entry is known, and measured by its own bytes; a second data field
                        // replaces the first, which was never allocated
                        entry.dataStart = parser.currentTokenLocation().getByteOffset();
                        parser.skipChildren();
                        entry.dataEnd = parser.currentTokenLocation().getByteOffset() + 1;
                    } else {
                        throw InferenceProtocolException.badRequest("The " + (entry.name == null ? kind
                                : entry.describe(kind)) + "'s data is not an array");
                    }
                }
                default -> parser.skipChildren();
            }
        }
    }

    private static void readEntryParameters(JsonParser parser, TensorEntry entry, String kind) throws IOException {
        expectObject(parser, kind + " parameters");
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            parser.nextToken();
            switch (field) {
                case "binary_data_size" -> entry.binaryDataSize = count(parser, "parameters.binary_data_size");
                case "binary_data" -> entry.binaryData = bool(parser, "parameters.binary_data");
                case "shared_memory_region" -> entry.region = text(parser, "parameters.shared_memory_region");
                case "shared_memory_byte_size" -> entry.regionByteSize = count(parser, "parameters.shared_memory_byte_size");
                case "shared_memory_offset" -> entry.regionOffset = count(parser, "parameters.shared_memory_offset");
                case "classification" -> throw InferenceProtocolException.badRequest("The classification extension is not"
                        + " supported: request the " + kind + "'s tensor and rank it in the client");
                default -> parser.skipChildren();
            }
        }
    }

    /** Gives the entry its elements from where they are: its JSON data, the binary data, or a region. */
    private static void fill(TensorEntry entry, String kind, ByteBuf binary, ByteBuf json, TensorAllocator allocator,
            Regions regions) throws IOException {
        boolean inJson = entry.dataStart >= 0;
        int sources = (inJson ? 1 : 0) + (entry.binaryDataSize >= 0 ? 1 : 0) + (entry.region != null ? 1 : 0);
        if (sources != 1) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + (sources == 0
                    ? " has no data: give data, parameters.binary_data_size or parameters.shared_memory_region"
                    : " gives its elements more than once: give one of data, parameters.binary_data_size and"
                            + " parameters.shared_memory_region"));
        }
        if (entry.dataStart >= 0) {
            entry.tensor = allocate(entry, kind, (int) (entry.dataEnd - entry.dataStart), allocator);
            ByteBuf data = json.slice((int) entry.dataStart, (int) (entry.dataEnd - entry.dataStart));
            try (JsonParser parser = Json.parser(data)) {
                parser.nextToken();
                TensorData.decode(parser, entry.tensor, entry.describe(kind));
            }
            return;
        }
        long bytes = entry.byteSize(kind);
        if (entry.binaryDataSize >= 0) {
            if (entry.binaryDataSize != bytes) {
                throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + " gives binary_data_size "
                        + entry.binaryDataSize + ", but its shape of " + entry.datatype + " is " + bytes + " bytes");
            }
            if (binary.readableBytes() < bytes) {
                throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + "'s " + bytes + " bytes of"
                        + " binary data are not all in the body: " + binary.readableBytes() + " bytes are left");
            }
            entry.tensor = allocator.allocateUninitialized(entry.dtype(kind), entry.shape);
            binary.readBytes(entry.tensor.directBuffer());
            return;
        }
        ClientRegion region = regions.region(entry.region);
        if (entry.regionByteSize >= 0 && entry.regionByteSize != bytes) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + " gives shared_memory_byte_size "
                    + entry.regionByteSize + ", but its shape of " + entry.datatype + " is " + bytes + " bytes");
        }
        // before allocating: a shape is only a claim, and a region's size bounds what it can fill
        try {
            region.checkSpan(entry.regionOffset, bytes);
        } catch (SharedMemoryException e) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + ": " + e.getMessage());
        }
        entry.tensor = allocator.allocateUninitialized(entry.dtype(kind), entry.shape);
        try {
            region.read(entry.regionOffset, entry.tensor);
        } catch (SharedMemoryException e) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + ": " + e.getMessage());
        }
    }

    /** A tensor for an entry's JSON data, refused if the data could not hold the shape's elements. */
    private static Tensor allocate(TensorEntry entry, String kind, int jsonBytes, TensorAllocator allocator) {
        DType dtype = entry.dtype(kind);
        if (!TensorData.hasJsonForm(dtype)) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + " is " + entry.datatype
                    + ", which JSON does not carry: send it as binary data (parameters.binary_data_size)");
        }
        long count = entry.elementCount(kind);
        // every element but the last takes at least a digit and a comma: a shape larger than that is a lie
        if (count > jsonBytes / 2 + 1) {
            throw InferenceProtocolException.badRequest("The " + entry.describe(kind) + " has shape "
                    + java.util.Arrays.toString(entry.shape) + ", " + count + " elements, more than its JSON data holds");
        }
        return allocator.allocateUninitialized(dtype, entry.shape);
    }

    private static long[] shape(JsonParser parser, TensorEntry entry, String kind) throws IOException {
        if (parser.currentToken() != JsonToken.START_ARRAY) {
            throw InferenceProtocolException.badRequest("The " + kind + "'s shape is not an array");
        }
        List<Long> dims = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
            if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT
                    || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER || dims.size() == 64) {
                throw InferenceProtocolException.badRequest("The " + kind + "'s shape holds " + parser.getText()
                        + ": a shape is up to 64 integers");
            }
            dims.add(parser.getLongValue());
        }
        return dims.stream().mapToLong(Long::longValue).toArray();
    }

    private static void expectObject(JsonParser parser, String what) {
        if (parser.currentToken() != JsonToken.START_OBJECT) {
            throw InferenceProtocolException.badRequest("'" + what + "' is not a JSON object");
        }
    }

    private static String text(JsonParser parser, String what) throws IOException {
        if (parser.currentToken() != JsonToken.VALUE_STRING) {
            throw InferenceProtocolException.badRequest("The " + what + " is not a string");
        }
        return parser.getText();
    }

    private static boolean bool(JsonParser parser, String what) throws IOException {
        JsonToken token = parser.currentToken();
        if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
            throw InferenceProtocolException.badRequest(what + " is " + parser.getText() + ", not true or false");
        }
        return token == JsonToken.VALUE_TRUE;
    }

    private static long count(JsonParser parser, String what) throws IOException {
        if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                || parser.getLongValue() < 0) {
            throw InferenceProtocolException.badRequest(what + " is " + parser.getText() + ", not an integer of 0 or more");
        }
        return parser.getLongValue();
    }

    /** Takes the tensors of a response's outputs, by name, in order: the message no longer closes them. */
    Map<String, Tensor> takeOutputs() {
        Map<String, Tensor> tensors = new java.util.LinkedHashMap<>();
        for (TensorEntry entry : outputs) {
            tensors.put(entry.name, entry.tensor);
            entry.tensor = null;
        }
        return tensors;
    }

    @Override
    public void close() {
        for (TensorEntry entry : inputs) {
            if (entry.tensor != null) {
                entry.tensor.close();
                entry.tensor = null;
            }
        }
        for (TensorEntry entry : outputs) {
            if (entry.tensor != null) {
                entry.tensor.close();
                entry.tensor = null;
            }
        }
    }

    /** How a response gives one output. */
    enum Mode {
        JSON,
        BINARY,
        /** written into a client's region, of which the response says only where */
        REGION
    }

    /** One output of a response: its tensor, and how it is given. */
    record Output(String name, Tensor tensor, Mode mode, ClientRegion region, long offset) {
    }

    /** A response to an infer request. */
    static Encoded writeResponse(String model, String version, String id, List<Output> outputs) throws IOException {
        List<Tensor> binary = new ArrayList<>();
        ByteBuf header = Json.write(json -> {
            json.writeStartObject();
            json.writeStringField("model_name", model);
            json.writeStringField("model_version", version);
            if (id != null) {
                json.writeStringField("id", id);
            }
            json.writeArrayFieldStart("outputs");
            for (Output output : outputs) {
                Tensor tensor = output.tensor();
                json.writeStartObject();
                json.writeStringField("name", output.name());
                json.writeStringField("datatype", Datatypes.name(tensor.dtype()));
                Json.shape(json, tensor.shape());
                switch (output.mode()) {
                    case JSON -> {
                        json.writeFieldName("data");
                        TensorData.encode(json, tensor);
                    }
                    case BINARY -> {
                        json.writeObjectFieldStart("parameters");
                        json.writeNumberField("binary_data_size", tensor.byteSize());
                        json.writeEndObject();
                        binary.add(tensor);
                    }
                    case REGION -> {
                        json.writeObjectFieldStart("parameters");
                        json.writeStringField("shared_memory_region", output.region().name());
                        json.writeNumberField("shared_memory_byte_size", tensor.byteSize());
                        if (output.offset() != 0) {
                            json.writeNumberField("shared_memory_offset", output.offset());
                        }
                        json.writeEndObject();
                    }
                }
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeEndObject();
        });
        return encoded(header, binary);
    }

    /**
     * A request: every input as binary data if {@code binary}, else as JSON (binary for a dtype JSON does not carry);
     * every output binary if {@code binary}, else those named in {@code binaryOutputs}.
     */
    static Encoded writeRequest(String id, Map<String, Tensor> inputs, boolean binary, List<String> outputs,
            java.util.Set<String> binaryOutputs) throws IOException {
        List<Tensor> binaryInputs = new ArrayList<>();
        ByteBuf header = Json.write(json -> {
            json.writeStartObject();
            if (id != null) {
                json.writeStringField("id", id);
            }
            if (binary) {
                json.writeObjectFieldStart("parameters");
                json.writeBooleanField("binary_data_output", true);
                json.writeEndObject();
            }
            json.writeArrayFieldStart("inputs");
            for (Map.Entry<String, Tensor> input : inputs.entrySet()) {
                Tensor tensor = input.getValue();
                json.writeStartObject();
                json.writeStringField("name", input.getKey());
                Json.shape(json, tensor.shape());
                json.writeStringField("datatype", Datatypes.name(tensor.dtype()));
                if (binary || !TensorData.hasJsonForm(tensor.dtype())) {
                    json.writeObjectFieldStart("parameters");
                    json.writeNumberField("binary_data_size", tensor.byteSize());
                    json.writeEndObject();
                    binaryInputs.add(tensor);
                } else {
                    json.writeFieldName("data");
                    TensorData.encode(json, tensor);
                }
                json.writeEndObject();
            }
            json.writeEndArray();
            if (!binary && !binaryOutputs.isEmpty()) {
                json.writeArrayFieldStart("outputs");
                for (String output : outputs) {
                    json.writeStartObject();
                    json.writeStringField("name", output);
                    if (binaryOutputs.contains(output)) {
                        json.writeObjectFieldStart("parameters");
                        json.writeBooleanField("binary_data", true);
                        json.writeEndObject();
                    }
                    json.writeEndObject();
                }
                json.writeEndArray();
            }
            json.writeEndObject();
        });
        return encoded(header, binaryInputs);
    }

    /**
     * A body: the JSON header, then the bytes of the tensors it gives a {@code binary_data_size}, in its order; JSON
     * alone if they hold no bytes.
     */
    private static Encoded encoded(ByteBuf header, List<Tensor> binary) {
        long bytes = binary.stream().mapToLong(Tensor::byteSize).sum();
        if (bytes == 0) {
            return new Encoded(Buffer.buffer(header), -1);
        }
        int headerLength = header.readableBytes();
        ByteBuf body = Unpooled.buffer(Math.toIntExact(headerLength + bytes));
        body.writeBytes(header);
        binary.forEach(tensor -> body.writeBytes(tensor.directBuffer()));
        return new Encoded(Buffer.buffer(body), headerLength);
    }
}
