package io.quarkiverse.modelsharing.runtime.oip;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.quarkiverse.modelsharing.shm.ClientRegion;
import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.vertx.core.buffer.Buffer;

/**
 * The system shared-memory regions clients registered, by name: the protocol's system shared-memory extension.
 * Refused unless {@code allow-client-shm} is on.
 */
final class ClientRegions implements InferMessage.Regions, AutoCloseable {

    private final boolean allowed;
    private final Path directory;
    private final int max;
    private final Map<String, ClientRegion> regions = new TreeMap<>();

    ClientRegions(boolean allowed, Path directory, int max) {
        this.allowed = allowed;
        this.directory = directory;
        this.max = max;
    }

    /** Whether a request comes from this host: a loopback address or a Unix domain socket. */
    static boolean fromThisHost(io.vertx.core.net.SocketAddress peer) {
        if (peer == null) {
            return false;
        }
        if (peer.isDomainSocket()) {
            return true;
        }
        String host = peer.hostAddress();
        if (host == null || !host.matches("[0-9a-fA-F.:%]+")) {
            return false; // an address, never a name to resolve
        }
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private void checkAllowed() {
        if (!allowed) {
            throw new InferenceProtocolException(403, "Client shared memory is off: set"
                    + " quarkus.model-sharing.inference-protocol.allow-client-shm=true to let clients on this host"
                    + " register regions");
        }
    }

    @Override
    public synchronized ClientRegion region(String name) {
        checkAllowed();
        ClientRegion region = regions.get(name);
        if (region == null) {
            throw InferenceProtocolException.badRequest("Shared-memory region '" + name + "' is not registered; the"
                    + " regions are " + regions.keySet());
        }
        return region;
    }

    /** Registers a region from its request body: {@code {"key": "/name", "offset": 0, "byte_size": N}}. */
    Buffer register(String name, Buffer body) throws IOException {
        checkAllowed();
        String key = null;
        long offset = 0;
        long byteSize = -1;
        if (body == null || body.length() == 0) {
            throw InferenceProtocolException.badRequest("Registering region '" + name + "' needs a body: {\"key\":"
                    + " \"/name\", \"offset\": 0, \"byte_size\": N}");
        }
        try (JsonParser parser = Json.parser(body.getByteBuf())) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw InferenceProtocolException.badRequest("The body of a region's registration is not a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                switch (field) {
                    case "key" -> key = value == JsonToken.VALUE_STRING ? parser.getText() : null;
                    case "offset" -> offset = integer(parser, value, "offset");
                    case "byte_size" -> byteSize = integer(parser, value, "byte_size");
                    default -> parser.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw InferenceProtocolException.badRequest("The body of a region's registration is not valid JSON: "
                    + e.getOriginalMessage());
        }
        if (key == null || byteSize < 0) {
            throw InferenceProtocolException.badRequest("Registering region '" + name + "' needs a string 'key' and a"
                    + " 'byte_size'");
        }
        synchronized (this) {
            if (regions.containsKey(name)) {
                throw InferenceProtocolException.badRequest("Shared-memory region '" + name + "' is already registered:"
                        + " unregister it first");
            }
            if (regions.size() >= max) {
                throw InferenceProtocolException.badRequest("Already " + max + " shared-memory regions are registered"
                        + " (inference-protocol.max-regions): unregister some first");
            }
            try {
                regions.put(name, ClientRegion.open(directory, name, key, offset, byteSize));
            } catch (SharedMemoryException e) {
                throw InferenceProtocolException.badRequest(e.getMessage());
            }
        }
        return Buffer.buffer();
    }

    private static long integer(JsonParser parser, JsonToken value, String field) throws IOException {
        if (value != JsonToken.VALUE_NUMBER_INT || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                || parser.getLongValue() < 0) {
            throw InferenceProtocolException.badRequest("'" + field + "' is " + parser.getText()
                    + ", not an integer of 0 or more");
        }
        return parser.getLongValue();
    }

    /** Unregisters one region, or all of them if {@code name} is null; an unknown name is not an error. */
    synchronized Buffer unregister(String name) {
        checkAllowed();
        if (name == null) {
            regions.values().forEach(ClientRegion::close);
            regions.clear();
        } else {
            ClientRegion region = regions.remove(name);
            if (region != null) {
                region.close();
            }
        }
        return Buffer.buffer();
    }

    /** The registered regions (or one), as the extension's status gives them. */
    synchronized Buffer status(String name) throws IOException {
        checkAllowed();
        List<ClientRegion> listed = new ArrayList<>();
        if (name == null) {
            listed.addAll(regions.values());
        } else {
            listed.add(region(name));
        }
        return InferenceProtocolRoutes.json(json -> {
            json.writeStartArray();
            for (ClientRegion region : listed) {
                json.writeStartObject();
                json.writeStringField("name", region.name());
                json.writeStringField("key", region.key());
                json.writeNumberField("offset", region.offset());
                json.writeNumberField("byte_size", region.byteSize());
                json.writeEndObject();
            }
            json.writeEndArray();
        });
    }

    @Override
    public synchronized void close() {
        regions.values().forEach(ClientRegion::close);
        regions.clear();
    }
}
