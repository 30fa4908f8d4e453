package io.quarkiverse.modelsharing.runtime.eventbus;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;

/**
 * One member of a two-JVM clustered Vert.x on loopback, with the tensor codec registered. Run as a child process, it
 * answers on address {@code tensors} with what it received.
 */
public final class ClusterNode {

    private ClusterNode() {
    }

    static Vertx start(String cluster, int port, SharedMemoryPool pool) throws Exception {
        Config hazelcast = new Config().setClusterName(cluster);
        hazelcast.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
        JoinConfig join = hazelcast.getNetworkConfig().getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getTcpIpConfig().setEnabled(true).addMember("127.0.0.1:5801").addMember("127.0.0.1:5802");
        hazelcast.setProperty("hazelcast.phone.home.enabled", "false");
        hazelcast.setProperty("hazelcast.logging.type", "jdk");
        VertxOptions options = new VertxOptions().setClusterManager(new HazelcastClusterManager(hazelcast));
        options.getEventBusOptions().setHost("127.0.0.1").setClusterPublicHost("127.0.0.1");
        TensorMessageCodec.configure(pool, Duration.ofSeconds(30));
        Vertx vertx = Vertx.clusteredVertx(options).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        vertx.eventBus().registerDefaultCodec(Tensor.class, new TensorMessageCodec());
        return vertx;
    }

    /** {@code <cluster name> <shm root>}: joins, answers on "tensors", prints "ready", runs until killed or told. */
    public static void main(String[] args) throws Exception {
        SharedMemorySettings settings = new SharedMemorySettings(Path.of(args[1]), 1 << 20, 8 << 20, Duration.ofSeconds(1),
                true);
        try (SharedMemoryPool pool = SharedMemoryPool.open(settings)) {
            Vertx vertx = start(args[0], 5802, pool);
            Promise<Void> registered = Promise.promise();
            vertx.eventBus().<Tensor> consumer("tensors", message -> {
                try (Tensor tensor = message.body()) {
                    double sum = 0;
                    for (float v : tensor.toFloatArray()) {
                        sum += v;
                    }
                    message.reply(tensor.storageKind() + " " + tensor.isReadOnly() + " " + sum);
                }
            }).completionHandler(registered);
            registered.future().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            System.out.println("ready");
            System.out.flush();
            // stop when the parent closes our stdin
            while (System.in.read() >= 0) {
                // keep reading
            }
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        System.exit(0);
    }
}
