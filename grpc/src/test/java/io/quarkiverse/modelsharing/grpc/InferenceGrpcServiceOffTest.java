package io.quarkiverse.modelsharing.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkiverse.modelsharing.grpc.v2.GRPCInferenceServiceGrpc;
import io.quarkiverse.modelsharing.grpc.v2.ServerLiveRequest;
import io.quarkus.test.QuarkusUnitTest;

/** With the protocol off (the default), the gRPC service answers every call UNIMPLEMENTED with the key to set. */
class InferenceGrpcServiceOffTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addPackages(true, InferenceGrpcService.class.getPackage()));

    @Test
    void everyCallSaysTheProtocolIsOff() throws Exception {
        int port = ConfigProvider.getConfig().getOptionalValue("quarkus.grpc.server.test-port", Integer.class).orElse(9001);
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> GRPCInferenceServiceGrpc.newBlockingStub(channel).serverLive(ServerLiveRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
            assertEquals("The Open Inference Protocol is off: set quarkus.model-sharing.inference-protocol.enabled=true",
                    e.getStatus().getDescription());
        } finally {
            channel.shutdownNow().awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
