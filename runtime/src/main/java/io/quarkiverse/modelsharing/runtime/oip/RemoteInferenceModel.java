package io.quarkiverse.modelsharing.runtime.oip;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.impl.NoStackTraceTimeoutException;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.ext.web.client.impl.ClientPhase;
import io.vertx.ext.web.client.impl.HttpContext;
import io.vertx.ext.web.client.impl.WebClientInternal;
import io.vertx.ext.web.codec.BodyCodec;

/**
 * A model served by another server that speaks the Open Inference Protocol (Triton, KServe, MLServer, OpenVINO
 * Model Server, or another application of ours): {@code placement=remote}. Requests carry binary tensors by
 * default; each has a deadline; connections come from a bounded pool of Vert.x's web client.
 */
public final class RemoteInferenceModel implements InferenceModel, AutoCloseable {

    /**
     * Where the model is and how to call it.
     *
     * @param url the server's base URL, e.g. {@code http://triton:8000}
     * @param remoteName the model's name there
     * @param version its version there, or null for the server's choice
     * @param binary whether tensors travel as binary data (the extension) or JSON
     * @param maxResponseBytes the largest answer read; a larger one fails its request
     */
    public record Settings(String url, String remoteName, String version, Duration timeout, Duration connectTimeout,
            int maxConnections, boolean binary, long maxResponseBytes) {
    }

    private final String name;
    private final Settings settings;
    private final String base;
    private static final String FLIGHT = "x-model-sharing-exchange";
    private static final AtomicLong FLIGHTS = new AtomicLong();

    private final Map<String, Flight> inFlight = new java.util.concurrent.ConcurrentHashMap<>();
    private final Vertx vertx;
    private final WebClient client;
    private final TensorAllocator allocator;
    private volatile Metadata metadata;
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong nanos = new AtomicLong();

    private final Supplier<Metadata> expected;

    /** A model's inputs and outputs. */
    public record Metadata(List<TensorSpec> inputs, List<TensorSpec> outputs) {
    }

    /**
     * @param expected what the application expects of the model (the inputs and outputs of the model file
     *        configured for it), asked for and checked against the remote server's metadata when that is first read;
     *        null for none
     */
    public RemoteInferenceModel(String name, Settings settings, Vertx vertx, TensorAllocator allocator,
            Supplier<Metadata> expected) {
        this.name = name;
        this.expected = expected;
        this.settings = settings;
        String url = settings.url().endsWith("/") ? settings.url().substring(0, settings.url().length() - 1)
                : settings.url();
        this.base = url + "/v2/models/" + settings.remoteName()
                + (settings.version() == null ? "" : "/versions/" + settings.version());
        this.allocator = allocator;
        this.vertx = vertx;
        this.client = WebClient.create(vertx, new WebClientOptions()
                .setMaxPoolSize(settings.maxConnections())
                .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis()))
                .setKeepAlive(true)
                // a redirect would escape the deadline, and could turn an inference into a GET of another host
                .setFollowRedirects(false)
                .setUserAgent("quarkus-model-sharing"));
        ((WebClientInternal) client).addInterceptor(this::deadline);
    }

    @Override
    public String name() {
        return name;
    }

    /** The model's endpoint, for messages and readiness: {@code <url>/v2/models/<name>}. */
    public String endpoint() {
        return base;
    }

    @Override
    public List<TensorSpec> inputs() {
        return metadata().inputs();
    }

    @Override
    public List<TensorSpec> outputs() {
        return metadata().outputs();
    }

    /** Requests sent, requests that failed, and the nanoseconds they took in all. */
    public long[] totals() {
        return new long[] { requests.get(), failures.get(), nanos.get() };
    }

    /**
     * Reads the remote model's metadata now, checked against what the application expects of it, so that a model
     * that is missing, or not the one expected, fails startup rather than the first request.
     *
     * @throws ModelSharingException naming the server's answer, or each difference
     */
    public void check() {
        metadata();
    }

    private void check(Metadata remote) {
        if (expected == null) {
            return;
        }
        List<String> problems = new ArrayList<>();
        Metadata wanted = expected.get();
        compare("input", wanted.inputs(), remote.inputs(), problems);
        compare("output", wanted.outputs(), remote.outputs(), problems);
        if (!problems.isEmpty()) {
            throw new ModelSharingException("Remote model '" + name + "' at " + base + " is not the model the application"
                    + " expects: " + String.join("; ", problems));
        }
    }

    private static void compare(String kind, List<TensorSpec> expected, List<TensorSpec> remote, List<String> problems) {
        for (TensorSpec spec : expected) {
            TensorSpec there = remote.stream().filter(r -> r.name().equals(spec.name())).findFirst().orElse(null);
            if (there == null) {
                problems.add("it has no " + kind + " '" + spec.name() + "' (" + spec + " here); its " + kind + "s are "
                        + remote.stream().map(TensorSpec::name).toList());
            } else if (there.dtype() != spec.dtype() || !compatible(there.shape(), spec.shape())) {
                problems.add(kind + " '" + spec.name() + "' is " + there + " there, " + spec + " here");
            }
        }
    }

    private static boolean compatible(long[] there, long[] here) {
        if (there.length != here.length) {
            return false;
        }
        for (int i = 0; i < here.length; i++) {
            if (there[i] >= 0 && here[i] >= 0 && there[i] != here[i]) {
                return false;
            }
        }
        return true;
    }

    /** What the last readiness check found, and when, so that probes that come often cost the remote one call. */
    private record Readiness(long at, String problem) {
    }

    private static final long READINESS_TTL = TimeUnit.SECONDS.toNanos(1);
    private volatile Readiness readiness;

    /** Null if the remote model says it is ready, else why not; asked of the remote at most once a second. */
    public String notReady() {
        Readiness known = readiness;
        if (known != null && System.nanoTime() - known.at() < READINESS_TTL) {
            return known.problem();
        }
        String problem = askReady();
        readiness = new Readiness(System.nanoTime(), problem);
        return problem;
    }

    private String askReady() {
        try {
            Exchange response = send(client.getAbs(base + "/ready"), null, null);
            return response.status() == 200 ? null
                    : "not ready at " + base + " (" + response.status() + errorOf(response) + ")";
        } catch (ModelSharingException e) {
            return e.getMessage();
        }
    }

    private Metadata metadata() {
        Metadata known = metadata;
        if (known == null) {
            Exchange response = send(client.getAbs(base), null, null);
            if (response.status() != 200) {
                throw new ModelSharingException("Remote model '" + name + "' at " + base + " gives no metadata ("
                        + response.status() + errorOf(response) + ")");
            }
            known = readMetadata(response.body());
            check(known);
            metadata = known;
        }
        return known;
    }

    private Metadata readMetadata(Buffer body) {
        List<TensorSpec> inputs = new ArrayList<>();
        List<TensorSpec> outputs = new ArrayList<>();
        try (JsonParser parser = Json.parser(body == null ? io.netty.buffer.Unpooled.EMPTY_BUFFER : body.getByteBuf())) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                parser.nextToken();
                if (field.equals("inputs") || field.equals("outputs")) {
                    List<TensorSpec> into = field.equals("inputs") ? inputs : outputs;
                    while (parser.nextToken() == JsonToken.START_OBJECT) {
                        into.add(readSpec(parser));
                    }
                } else {
                    parser.skipChildren();
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new ModelSharingException("Remote model '" + name + "' at " + base + " gave metadata that cannot be"
                    + " read: " + e.getMessage(), e);
        }
        return new Metadata(List.copyOf(inputs), List.copyOf(outputs));
    }

    private TensorSpec readSpec(JsonParser parser) throws IOException {
        String specName = null;
        String datatype = null;
        List<Long> shape = new ArrayList<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            parser.nextToken();
            switch (field) {
                case "name" -> specName = parser.getText();
                case "datatype" -> datatype = parser.getText();
                case "shape" -> {
                    while (parser.nextToken() != JsonToken.END_ARRAY) {
                        shape.add(parser.getLongValue());
                    }
                }
                default -> parser.skipChildren();
            }
        }
        return new TensorSpec(specName, Datatypes.dtype(datatype, "tensor '" + specName + "'"),
                shape.stream().mapToLong(Long::longValue).toArray());
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs) {
        long start = System.nanoTime();
        requests.incrementAndGet();
        try {
            InferMessage.Encoded request;
            if (settings.binary()) {
                request = InferMessage.writeRequest(null, inputs, true, List.of(), java.util.Set.of());
            } else {
                // JSON has no 16-bit floats: such outputs are asked for as binary data
                List<TensorSpec> outputs = metadata().outputs();
                request = InferMessage.writeRequest(null, inputs, false, outputs.stream().map(TensorSpec::name).toList(),
                        outputs.stream().filter(spec -> !TensorData.hasJsonForm(spec.dtype())).map(TensorSpec::name)
                                .collect(java.util.stream.Collectors.toSet()));
            }
            HttpRequest<Buffer> post = client.postAbs(base + "/infer").putHeader("content-type", request.contentType());
            if (request.headerLength() >= 0) {
                post.putHeader(InferMessage.HEADER_LENGTH, Integer.toString(request.headerLength()));
            }
            Exchange response = send(post, request.body(), start);
            if (response.status() != 200) {
                String message = "Remote model '" + name + "' at " + base + " refused the request ("
                        + response.status() + errorOf(response) + ")";
                throw response.status() == 400 ? new TensorException(message)
                        : new InferenceProtocolException(response.status() >= 500 ? 502 : response.status(), message);
            }
            Buffer body = response.body();
            try (InferMessage answer = InferMessage.read(body, response.headerLength(), true,
                    allocator, region -> {
                        throw new ModelSharingException("a response names shared-memory region '" + region
                                + "', which this client never registered");
                    })) {
                if (answer.error != null) {
                    throw new ModelSharingException("Remote model '" + name + "' at " + base + " failed: " + answer.error);
                }
                return new InferenceResult(name, answer.takeOutputs());
            } catch (InferenceProtocolException e) {
                throw new InferenceProtocolException(502, "Remote model '" + name + "' at " + base + " gave an answer"
                        + " that cannot be read: " + e.getMessage(), e);
            }
        } catch (IOException e) {
            failures.incrementAndGet();
            throw new ModelSharingException("Remote model '" + name + "': the request cannot be written: " + e.getMessage(),
                    e);
        } catch (RuntimeException e) {
            failures.incrementAndGet();
            throw e;
        } finally {
            nanos.addAndGet(System.nanoTime() - start);
        }
    }

    /** An answer: its status, its {@code Inference-Header-Content-Length} if any, and its whole body. */
    private record Exchange(int status, String headerLength, Buffer body) {
    }

    /**
     * One exchange in flight: its absolute deadline, the request once it is sent, the timer that resets it at the
     * deadline, and its body. Touched on the client's event loop, and by the caller when it gives up waiting.
     */
    private static final class Flight {
        final long deadline;
        final BoundedBody body;
        volatile HttpClientRequest request;
        volatile long timer = -1;

        Flight(long deadline, BoundedBody body) {
            this.deadline = deadline;
            this.body = body;
        }

        /** Drops the exchange's connection, unless its answer has all come: that connection may serve another. */
        void abandon(Throwable why) {
            HttpClientRequest sent = request;
            if (sent != null && !body.ended()) {
                sent.reset(0, why);
            }
        }
    }

    /**
     * Sends the request and waits for its whole answer within the deadline, counted from {@code start} if given. At
     * the deadline the request is reset, so that a server that answers slowly, a byte at a time, holds no connection
     * of the pool; an answer past {@code remote.max-response-size} is refused, and its connection dropped, as it
     * comes.
     */
    private Exchange send(HttpRequest<Buffer> request, Buffer body, Long start) {
        if (Context.isOnEventLoopThread()) {
            // its answer would come on an event loop that this wait blocks
            throw new ModelSharingException("Remote model '" + name + "' was called on a Vert.x event loop, which a"
                    + " call that waits for another server would block: call it from a worker thread (@Blocking)");
        }
        long begin = start == null ? System.nanoTime() : start;
        long deadline = begin + settings.timeout().toNanos();
        long left = Math.max(TimeUnit.MILLISECONDS.toNanos(1), deadline - System.nanoTime());
        Flight flight = new Flight(deadline, new BoundedBody(settings.maxResponseBytes(), "Remote model '" + name
                + "' at " + base));
        String id = Long.toString(FLIGHTS.incrementAndGet());
        inFlight.put(id, flight);
        // the request timeout bounds the wait for a pooled connection and for the answer's head; the deadline, the rest
        HttpRequest<Void> piped = request.timeout(TimeUnit.NANOSECONDS.toMillis(left) + 1).as(BodyCodec.pipe(flight.body));
        piped.putHeader(FLIGHT, id);
        CompletableFuture<HttpResponse<Void>> answer = (body == null ? piped.send() : piped.sendBuffer(body))
                .toCompletionStage().toCompletableFuture();
        try {
            HttpResponse<Void> response = answer.get(left, TimeUnit.NANOSECONDS);
            return new Exchange(response.statusCode(), response.getHeader(InferMessage.HEADER_LENGTH), flight.body.body());
        } catch (TimeoutException e) {
            flight.abandon(e);
            throw timedOut();
        } catch (InterruptedException e) {
            flight.abandon(e);
            Thread.currentThread().interrupt();
            throw new ModelSharingException("Interrupted while waiting for remote model '" + name + "' at " + base, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            // e.g. an answer past max-response-size, which the pipe would otherwise go on reading to its end
            flight.abandon(cause);
            if (cause instanceof InferenceProtocolException protocol) {
                throw protocol;
            }
            if (cause instanceof java.util.concurrent.TimeoutException || cause instanceof NoStackTraceTimeoutException
                    || cause instanceof io.vertx.core.http.StreamResetException reset
                            && reset.getCause() instanceof java.util.concurrent.TimeoutException) {
                throw timedOut();
            }
            throw new ModelSharingException("Remote model '" + name + "' at " + base + " cannot be reached: "
                    + cause.getMessage(), cause);
        } finally {
            inFlight.remove(id);
        }
    }

    /**
     * Gives each exchange its hard deadline: Vert.x's request timeout ends when the answer's head comes, so a body that
     * comes a byte at a time would hold its connection for as long as it lasts. The exchange is found by a header that
     * is removed before the request leaves; an exchange whose deadline passed while it waited for a connection is not
     * sent at all.
     */
    private void deadline(HttpContext<?> exchange) {
        switch (exchange.phase()) {
            case SEND_REQUEST -> {
                HttpClientRequest request = exchange.clientRequest();
                String id = request.headers().get(FLIGHT);
                request.headers().remove(FLIGHT);
                Flight flight = id == null ? null : inFlight.get(id);
                if (flight != null) {
                    exchange.set(FLIGHT, flight);
                    flight.request = request;
                    long left = TimeUnit.NANOSECONDS.toMillis(flight.deadline - System.nanoTime());
                    if (left <= 0) {
                        exchange.fail(new java.util.concurrent.TimeoutException("deadline passed before sending"));
                        return;
                    }
                    flight.timer = vertx.setTimer(left, timer -> flight.abandon(
                            new java.util.concurrent.TimeoutException("deadline of " + settings.timeout().toMillis() + " ms")));
                }
            }
            case DISPATCH_RESPONSE, FAILURE -> {
                Flight flight = exchange.get(FLIGHT);
                if (flight != null) {
                    if (flight.timer >= 0) {
                        vertx.cancelTimer(flight.timer);
                    }
                    if (exchange.phase() == ClientPhase.FAILURE) {
                        // e.g. an answer past max-response-size, which the pipe would otherwise read to its end
                        flight.abandon(exchange.failure());
                    }
                }
            }
            default -> {
            }
        }
        exchange.next();
    }

    private ModelSharingException timedOut() {
        return new InferenceProtocolException(504, "Remote model '" + name + "' at " + base + " did not answer within "
                + settings.timeout().toMillis() + " ms (quarkus.model-sharing.models.\"" + name + "\".remote.timeout)");
    }

    private static String errorOf(Exchange response) {
        Buffer body = response.body();
        if (body == null || body.length() == 0) {
            return "";
        }
        try (JsonParser parser = Json.parser(body.getByteBuf())) {
            if (parser.nextToken() == JsonToken.START_OBJECT) {
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String field = parser.currentName();
                    parser.nextToken();
                    if (field.equals("error")) {
                        return ": " + parser.getValueAsString();
                    }
                    parser.skipChildren();
                }
            }
        } catch (IOException e) {
            // not the protocol's error object: show its start
        }
        String text = body.toString(java.nio.charset.StandardCharsets.UTF_8);
        return ": " + (text.length() > 200 ? text.substring(0, 200) + "..." : text);
    }

    @Override
    public void close() {
        client.close();
    }

    @Override
    public String toString() {
        return "remote model '" + name + "' at " + base;
    }
}
