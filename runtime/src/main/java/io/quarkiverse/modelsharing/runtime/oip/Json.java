package io.quarkiverse.modelsharing.runtime.oip;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;

/** The protocol's JSON, streamed with Jackson straight from and into Netty buffers. */
final class Json {

    private static final JsonFactory FACTORY = new JsonFactory();

    /** Writes one JSON value. */
    interface Writer {
        void write(JsonGenerator json) throws IOException;
    }

    private Json() {
    }

    /** The JSON that {@code writer} writes, in a new buffer. */
    static ByteBuf write(Writer writer) throws IOException {
        ByteBuf out = Unpooled.buffer();
        try (JsonGenerator json = FACTORY.createGenerator((OutputStream) new ByteBufOutputStream(out))) {
            writer.write(json);
        }
        return out;
    }

    /** A parser of the buffer's readable bytes; the buffer's own indexes are left as they are. */
    static JsonParser parser(ByteBuf bytes) throws IOException {
        return FACTORY.createParser((InputStream) new ByteBufInputStream(bytes.duplicate()));
    }

    /** A {@code "shape": [...]} field. */
    static void shape(JsonGenerator json, long[] shape) throws IOException {
        json.writeArrayFieldStart("shape");
        for (long dim : shape) {
            json.writeNumber(dim);
        }
        json.writeEndArray();
    }
}
