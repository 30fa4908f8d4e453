package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Two processes of the packaged demo application: one serves all-MiniLM-L6-v2 in process and, as its properties
 * say, over the Open Inference Protocol; the other is moved onto it by configuration alone
 * ({@code placement=remote}) and answers the same embeddings, byte for byte, until the server goes away.
 */
class RemotePlacementIT {

    static final List<String> TEXTS = List.of("One model, two applications.", "Remote placement keeps the same API.",
            "A much longer sentence, so that the tokens and the tensors it sends over HTTP are longer than the others.");

    @Test
    void aRemotePlacedApplicationAnswersAsTheServerDoesInProcess() throws Exception {
        int serverPort = DemoApplications.freePort();
        int clientPort = DemoApplications.freePort();
        List<Process> processes = new ArrayList<>();
        try {
            Process server = DemoApplications.application("remote-it-server", serverPort, List.of());
            processes.add(server);
            DemoApplications.awaitReady(serverPort, "loaded");
            String url = "http://localhost:" + serverPort;
            processes.add(DemoApplications.application("remote-it-client", clientPort, List.of(
                    "-Dquarkus.model-sharing.models.minilm.placement=remote",
                    "-Dquarkus.model-sharing.models.minilm.url=" + url,
                    "-Dquarkus.model-sharing.models.minilm.remote.timeout=5s")));
            DemoApplications.awaitReady(clientPort, "ready at " + url + "/v2/models/minilm");

            for (String text : TEXTS) {
                String body = "{\"text\": \"" + text + "\"}";
                HttpResponse<String> here = DemoApplications.post(serverPort, "/embeddings", body);
                HttpResponse<String> there = DemoApplications.post(clientPort, "/embeddings", body);
                assertEquals(200, here.statusCode(), here.body());
                assertEquals(200, there.statusCode(), there.body());
                assertEquals(here.body(), there.body(), "the remote-placed application embeds as the server does");
            }
            HttpResponse<String> metrics = DemoApplications.get(clientPort, "/q/metrics");
            assertTrue(metrics.body().contains("model_sharing_remote_requests_seconds_count{model=\"minilm\"} 3.0"),
                    "three remote requests are counted");

            DemoApplications.stop(server);
            HttpResponse<String> ready = DemoApplications.get(clientPort, "/q/health/ready");
            assertEquals(503, ready.statusCode(), ready.body());
            assertTrue(ready.body().contains("down: Remote model 'minilm' at " + url + "/v2/models/minilm cannot be"
                    + " reached: Connection refused"), ready.body());
            HttpResponse<String> failed = DemoApplications.post(clientPort, "/embeddings", "{\"text\": \"gone\"}");
            assertEquals(500, failed.statusCode(), failed.body());
        } finally {
            for (Process process : processes.reversed()) {
                DemoApplications.stop(process);
            }
        }
    }
}
