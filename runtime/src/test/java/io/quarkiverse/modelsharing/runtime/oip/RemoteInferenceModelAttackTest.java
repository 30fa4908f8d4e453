package io.quarkiverse.modelsharing.runtime.oip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.vertx.core.Vertx;

/** Remote servers that misbehave towards {@code placement=remote}. */
class RemoteInferenceModelAttackTest {

    @Test
    void aDrippingRemoteLosesItsConnectionAtTheDeadline() throws Exception {
        CountDownLatch closed = new CountDownLatch(1);
        Vertx vertx = Vertx.vertx();
        try (ServerSocket server = new ServerSocket(0)) {
            Thread.ofPlatform().daemon().start(() -> drip(server, closed));
            RemoteInferenceModel model = new RemoteInferenceModel("dripping", new RemoteInferenceModel.Settings(
                    "http://localhost:" + server.getLocalPort(), "m", null, Duration.ofMillis(500), Duration.ofSeconds(5),
                    1, true, 1 << 20), vertx, TensorAllocator.offHeap(), null);
            try (Tensor x = Tensor.of(new float[] { 1 }, 1)) {
                InferenceProtocolException late = assertThrows(InferenceProtocolException.class,
                        () -> model.run(Map.of("x", x)));
                assertEquals(504, late.status(), late.getMessage());
                // before the model is closed, which closes every connection
                assertTrue(closed.await(30, TimeUnit.SECONDS), "the connection to the dripping remote is closed at"
                        + " the deadline, so that it holds no connection of the pool");
            } finally {
                model.close();
            }
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get();
        }
    }

    @Test
    void anEndlessAnswerFailsPastItsBoundAndLosesItsConnection() throws Exception {
        CountDownLatch closed = new CountDownLatch(1);
        Vertx vertx = Vertx.vertx();
        try (ServerSocket server = new ServerSocket(0)) {
            Thread.ofPlatform().daemon().start(() -> flood(server, closed));
            RemoteInferenceModel model = new RemoteInferenceModel("flooding", new RemoteInferenceModel.Settings(
                    "http://localhost:" + server.getLocalPort(), "m", null, Duration.ofSeconds(60), Duration.ofSeconds(5),
                    1, true, 1 << 20), vertx, TensorAllocator.offHeap(), null);
            try (Tensor x = Tensor.of(new float[] { 1 }, 1)) {
                InferenceProtocolException big = assertThrows(InferenceProtocolException.class,
                        () -> model.run(Map.of("x", x)));
                assertEquals(502, big.status(), big.getMessage());
                assertEquals("Remote model 'flooding' at http://localhost:" + server.getLocalPort() + "/v2/models/m sent a"
                        + " response larger than 1048576 bytes (remote.max-response-size)", big.getMessage());
                assertTrue(closed.await(30, TimeUnit.SECONDS), "the connection to the flooding remote is dropped, not"
                        + " read to its end");
            } finally {
                model.close();
            }
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get();
        }
    }

    /** Answers 200 with a chunked body that never ends, as fast as the client reads, until it closes the connection. */
    private static void flood(ServerSocket server, CountDownLatch closed) {
        try (Socket socket = server.accept()) {
            socket.getInputStream().read(new byte[65536]);
            OutputStream out = socket.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = ("10000\r\n" + " ".repeat(0x10000) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            while (true) {
                out.write(chunk);
            }
        } catch (IOException e) {
            closed.countDown();
        }
    }

    /** Answers 200 with a long body, one byte every 100 ms, until the client closes the connection. */
    private static void drip(ServerSocket server, CountDownLatch closed) {
        try (Socket socket = server.accept()) {
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[65536];
            in.read(buffer);
            OutputStream out = socket.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < 100_000; i++) {
                out.write(' ');
                out.flush();
                Thread.sleep(100); // the remote's pace, not the test's synchronisation
            }
        } catch (IOException e) {
            closed.countDown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
