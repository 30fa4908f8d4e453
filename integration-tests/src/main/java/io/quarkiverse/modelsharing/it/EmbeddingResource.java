package io.quarkiverse.modelsharing.it;

import java.util.Map;

import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;

import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelStats;

/**
 * {@code POST /embeddings {"text": "..."}} answers {@code {"model": "minilm", "dimensions": 384, "tokens": n,
 * "embedding": [...]}}; {@code GET /models} shows the registry's counters.
 */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class EmbeddingResource {

    @Inject
    Embedder embedder;

    @Inject
    ModelRegistry registry;

    public record EmbeddingRequest(String text) {
    }

    public record EmbeddingResponse(String model, int dimensions, int tokens, float[] embedding) {
    }

    public record Problem(String error) {
    }

    @POST
    @Path("embeddings")
    @Consumes(MediaType.APPLICATION_JSON)
    public EmbeddingResponse embed(EmbeddingRequest request) {
        if (request == null) {
            throw new InvalidTextException("the body must be a JSON object like {\"text\": \"...\"}");
        }
        Embedder.Embedding embedding = embedder.embed(request.text());
        return new EmbeddingResponse("minilm", embedding.vector().length, embedding.tokens(), embedding.vector());
    }

    @GET
    @Path("models")
    public Map<String, ModelStats> models() {
        return registry.stats();
    }

    @ServerExceptionMapper
    public Response invalidText(InvalidTextException e) {
        return Response.status(Response.Status.BAD_REQUEST).entity(new Problem(e.getMessage())).build();
    }

    /** JSON of the wrong shape, e.g. an array where the object belongs. */
    @ServerExceptionMapper
    public Response mismatchedJson(MismatchedInputException e) {
        return badJson(e);
    }

    /** Malformed JSON reaches us wrapped by the body reader; other web exceptions keep their own response. */
    @ServerExceptionMapper
    public Response malformedJson(WebApplicationException e) {
        return e.getCause() instanceof JsonProcessingException json ? badJson(json) : e.getResponse();
    }

    private static Response badJson(JsonProcessingException e) {
        return Response.status(Response.Status.BAD_REQUEST).type(MediaType.APPLICATION_JSON)
                .entity(new Problem("the body is not valid JSON for {\"text\": \"...\"}: " + e.getOriginalMessage())).build();
    }
}
