package io.quarkiverse.modelsharing.runtime.oip;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import com.fasterxml.jackson.core.JsonGenerator;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.InferenceProtocolConfig;
import io.quarkiverse.modelsharing.shm.ClientRegion;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

/**
 * Serves every model of the application over the Open Inference Protocol's REST API, on {@code /v2}, when
 * {@code quarkus.model-sharing.inference-protocol.enabled} is true.
 */
@Singleton
public class InferenceProtocolRoutes {

    private static final Logger LOG = Logger.getLogger(InferenceProtocolRoutes.class);
    static final String VERSION = ServedModels.VERSION;

    @Inject
    ModelSharingConfig config;

    @Inject
    TensorAllocator allocator;

    @Inject
    ServedModels served;
    private ClientRegions regions;

    void routes(@Observes Router router) {
        InferenceProtocolConfig protocol = config.inferenceProtocol();
        if (!protocol.enabled()) {
            return;
        }
        regions = new ClientRegions(protocol.allowClientShm(), config.sharedMemory().directory(), protocol.maxRegions());
        long limit = ConfigProvider.getConfig().getOptionalValue("quarkus.http.limits.max-body-size", MemorySize.class)
                .map(MemorySize::asLongValue).orElse(10L * 1024 * 1024);
        BodyHandler bodies = BodyHandler.create(false).setBodyLimit(limit);
        router.get("/v2/health/live").handler(ctx -> ctx.response().setStatusCode(200).end());
        // readiness, metadata and inference may wait: for a model to load, a worker, or a remote server
        router.get("/v2/health/ready").blockingHandler(this::serverReady, false);
        router.get("/v2").handler(this::serverMetadata);
        router.get("/v2/models/:model").blockingHandler(ctx -> modelMetadata(ctx, null), false);
        router.get("/v2/models/:model/versions/:version")
                .blockingHandler(ctx -> modelMetadata(ctx, ctx.pathParam("version")), false);
        router.get("/v2/models/:model/ready").blockingHandler(ctx -> modelReady(ctx, null), false);
        router.get("/v2/models/:model/versions/:version/ready")
                .blockingHandler(ctx -> modelReady(ctx, ctx.pathParam("version")), false);
        router.post("/v2/models/:model/infer").handler(bodies).blockingHandler(ctx -> infer(ctx, null), false);
        router.post("/v2/models/:model/versions/:version/infer").handler(bodies)
                .blockingHandler(ctx -> infer(ctx, ctx.pathParam("version")), false);
        router.get("/v2/systemsharedmemory/status").handler(ctx -> reply(ctx, () -> local(ctx).status(null)));
        router.get("/v2/systemsharedmemory/region/:region/status")
                .handler(ctx -> reply(ctx, () -> local(ctx).status(ctx.pathParam("region"))));
        router.post("/v2/systemsharedmemory/region/:region/register").handler(bodies)
                .blockingHandler(ctx -> reply(ctx, () -> local(ctx).register(ctx.pathParam("region"), ctx.body().buffer())),
                        false);
        router.post("/v2/systemsharedmemory/region/:region/unregister").handler(bodies)
                .handler(ctx -> reply(ctx, () -> local(ctx).unregister(ctx.pathParam("region"))));
        router.post("/v2/systemsharedmemory/unregister").handler(bodies)
                .handler(ctx -> reply(ctx, () -> local(ctx).unregister(null)));
        router.route("/v2/*").failureHandler(ctx -> error(ctx, new InferenceProtocolException(
                ctx.statusCode() >= 400 ? ctx.statusCode() : 500, ctx.statusCode() == 413
                        ? "The request body is larger than quarkus.http.limits.max-body-size (" + limit + " bytes)"
                        : String.valueOf(ctx.failure() == null ? "HTTP " + ctx.statusCode() : ctx.failure().getMessage()))));
        router.route("/v2/*").last().handler(ctx -> error(ctx, new InferenceProtocolException(404, ctx.request().method()
                + " " + ctx.normalizedPath() + " is not an endpoint of the Open Inference Protocol here")));
        LOG.infof("Open Inference Protocol on /v2 for models %s%s", served.all().keySet(),
                protocol.allowClientShm() ? ", with client shared memory" : "");
    }

    void close(@Observes io.quarkus.runtime.ShutdownEvent event) {
        if (regions != null) {
            regions.close();
        }
    }

    private InferenceModel model(RoutingContext ctx, String version) {
        return served.get(ctx.pathParam("model"), version);
    }

    private void serverReady(RoutingContext ctx) {
        List<String> problems = served.problems();
        if (problems.isEmpty()) {
            ctx.response().setStatusCode(200).end();
        } else {
            error(ctx, new InferenceProtocolException(400, "Not ready: " + String.join("; ", problems)));
        }
    }

    private void serverMetadata(RoutingContext ctx) {
        reply(ctx, () -> json(json -> {
            json.writeStartObject();
            json.writeStringField("name", ServedModels.SERVER);
            json.writeStringField("version", served.serverVersion());
            json.writeArrayFieldStart("extensions");
            json.writeString("binary_tensor_data");
            if (config.inferenceProtocol().allowClientShm()) {
                json.writeString("system_shared_memory");
            }
            json.writeEndArray();
            json.writeEndObject();
        }));
    }

    private void modelMetadata(RoutingContext ctx, String version) {
        reply(ctx, () -> {
            InferenceModel model = model(ctx, version);
            List<TensorSpec> inputs = specs(model, true);
            List<TensorSpec> outputs = specs(model, false);
            return json(json -> {
                json.writeStartObject();
                json.writeStringField("name", model.name());
                json.writeArrayFieldStart("versions");
                json.writeString(VERSION);
                json.writeEndArray();
                json.writeStringField("platform", "onnxruntime_onnx");
                writeSpecs(json, "inputs", inputs);
                writeSpecs(json, "outputs", outputs);
                json.writeEndObject();
            });
        });
    }

    private static List<TensorSpec> specs(InferenceModel model, boolean inputs) {
        try {
            return inputs ? model.inputs() : model.outputs();
        } catch (ModelSharingException e) {
            throw new InferenceProtocolException(503, "Model '" + model.name() + "' cannot give its metadata: "
                    + e.getMessage(), e);
        }
    }

    private static void writeSpecs(JsonGenerator json, String field, List<TensorSpec> specs) throws IOException {
        json.writeArrayFieldStart(field);
        for (TensorSpec spec : specs) {
            json.writeStartObject();
            json.writeStringField("name", spec.name());
            json.writeStringField("datatype", Datatypes.name(spec.dtype()));
            json.writeArrayFieldStart("shape");
            for (long dim : spec.shape()) {
                json.writeNumber(dim < 0 ? -1 : dim);
            }
            json.writeEndArray();
            json.writeEndObject();
        }
        json.writeEndArray();
    }

    private void modelReady(RoutingContext ctx, String version) {
        try {
            InferenceModel model = model(ctx, version);
            Optional<String> problem = served.problem(model.name());
            if (problem.isEmpty()) {
                ctx.response().setStatusCode(200).end();
            } else {
                error(ctx, new InferenceProtocolException(400, "Model '" + model.name() + "' is not ready: "
                        + problem.get()));
            }
        } catch (InferenceProtocolException e) {
            error(ctx, e);
        }
    }

    private void infer(RoutingContext ctx, String version) {
        try {
            InferenceModel model = model(ctx, version);
            Buffer body = ctx.body().buffer();
            if (body == null) {
                throw InferenceProtocolException.badRequest("The request has no body");
            }
            InferMessage.Encoded answer;
            try (InferMessage request = InferMessage.read(body, ctx.request().getHeader(InferMessage.HEADER_LENGTH), false,
                    allocator, name -> local(ctx).region(name))) {
                Map<String, Tensor> inputs = new HashMap<>();
                request.inputs.forEach(entry -> inputs.put(entry.name, entry.tensor));
                try (InferenceResult result = run(model, inputs)) {
                    answer = InferMessage.writeResponse(model.name(), VERSION, request.id,
                            outputs(ctx, model, request, result));
                }
            }
            ctx.response().setStatusCode(200).putHeader("content-type", answer.contentType());
            if (answer.headerLength() >= 0) {
                ctx.response().putHeader(InferMessage.HEADER_LENGTH, Integer.toString(answer.headerLength()));
            }
            ctx.response().end(answer.body());
        } catch (InferenceProtocolException e) {
            error(ctx, e);
        } catch (IOException | RuntimeException e) {
            LOG.debugf(e, "Inference request to %s failed", ctx.normalizedPath());
            error(ctx, new InferenceProtocolException(500, e.getMessage() == null ? e.toString() : e.getMessage()));
        }
    }

    private static InferenceResult run(InferenceModel model, Map<String, Tensor> inputs) {
        try {
            return model.run(inputs);
        } catch (TensorException e) {
            throw InferenceProtocolException.badRequest(e.getMessage());
        } catch (ModelSharingException e) {
            throw new InferenceProtocolException(e instanceof InferenceProtocolException protocol ? protocol.status() : 503,
                    e.getMessage(), e);
        }
    }

    /**
     * The client shared-memory regions, for a request from this host only: a region is a file of this application's
     * user, which a client elsewhere must not name. A request through a proxy or a sidecar on the host counts as local:
     * do not turn client shared memory on behind one.
     */
    private ClientRegions local(RoutingContext ctx) {
        // the connection's own peer: the request's address may come from forwarded headers, which a client writes
        io.vertx.core.net.SocketAddress peer = ctx.request().connection().remoteAddress();
        if (!ClientRegions.fromThisHost(peer)) {
            throw new InferenceProtocolException(403, "Shared-memory regions are for clients on this host; this request"
                    + " comes from " + (peer == null ? "an unknown address" : peer.hostAddress()) + ": send the tensors as"
                    + " binary data instead");
        }
        return regions;
    }

    /** The outputs the request asked for (all if it named none), each as JSON, binary data or into a region. */
    private List<InferMessage.Output> outputs(RoutingContext ctx, InferenceModel model, InferMessage request,
            InferenceResult result) {
        List<InferMessage.Output> outputs = new ArrayList<>();
        if (request.outputs.isEmpty()) {
            for (String name : result.names()) {
                Tensor tensor = result.get(name);
                outputs.add(new InferMessage.Output(name, tensor, mode(request.binaryDataOutput, tensor), null, 0));
            }
            return outputs;
        }
        for (TensorEntry wanted : request.outputs) {
            if (!result.names().contains(wanted.name)) {
                throw InferenceProtocolException.badRequest("Model '" + model.name() + "' has no output '" + wanted.name
                        + "'; its outputs are " + result.names());
            }
            Tensor tensor = result.get(wanted.name);
            if (wanted.region != null) {
                ClientRegion region = local(ctx).region(wanted.region);
                long size = wanted.regionByteSize >= 0 ? wanted.regionByteSize : region.byteSize() - wanted.regionOffset;
                if (tensor.byteSize() > size) {
                    throw InferenceProtocolException.badRequest("Output '" + wanted.name + "' is " + tensor.byteSize()
                            + " bytes, more than the " + size + " bytes of region '" + wanted.region + "' it was given");
                }
                try {
                    region.write(wanted.regionOffset, tensor);
                } catch (io.quarkiverse.modelsharing.shm.SharedMemoryException e) {
                    throw InferenceProtocolException.badRequest("Output '" + wanted.name + "': " + e.getMessage());
                }
                outputs.add(new InferMessage.Output(wanted.name, tensor, InferMessage.Mode.REGION, region,
                        wanted.regionOffset));
            } else {
                boolean binary = wanted.binaryData != null ? wanted.binaryData : request.binaryDataOutput;
                outputs.add(new InferMessage.Output(wanted.name, tensor, mode(binary, tensor), null, 0));
            }
        }
        return outputs;
    }

    private static InferMessage.Mode mode(boolean binary, Tensor tensor) {
        if (binary) {
            return InferMessage.Mode.BINARY;
        }
        if (!TensorData.hasJsonForm(tensor.dtype())) {
            throw InferenceProtocolException.badRequest("An output is " + Datatypes.name(tensor.dtype())
                    + ", which JSON does not carry: ask for it as binary data (parameters.binary_data=true)");
        }
        return InferMessage.Mode.JSON;
    }

    static Buffer json(Json.Writer writer) throws IOException {
        return Buffer.buffer(Json.write(writer));
    }

    interface Answer {
        Buffer get() throws IOException;
    }

    private static void reply(RoutingContext ctx, Answer answer) {
        try {
            Buffer body = answer.get();
            ctx.response().setStatusCode(200).putHeader("content-type", InferMessage.JSON_TYPE).end(body);
        } catch (InferenceProtocolException e) {
            error(ctx, e);
        } catch (IOException | RuntimeException e) {
            error(ctx, new InferenceProtocolException(500, String.valueOf(e.getMessage())));
        }
    }

    static void error(RoutingContext ctx, InferenceProtocolException e) {
        try {
            Buffer body = json(json -> {
                json.writeStartObject();
                json.writeStringField("error", e.getMessage());
                json.writeEndObject();
            });
            ctx.response().setStatusCode(e.status()).putHeader("content-type", InferMessage.JSON_TYPE).end(body);
        } catch (IOException impossible) {
            ctx.response().setStatusCode(500).end();
        }
    }
}
