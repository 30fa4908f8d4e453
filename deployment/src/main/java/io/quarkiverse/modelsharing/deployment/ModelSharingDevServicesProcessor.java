package io.quarkiverse.modelsharing.deployment;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.URISyntaxException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import ai.onnxruntime.OrtEnvironment;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig;
import io.quarkiverse.modelsharing.worker.WorkerMain;
import io.quarkus.deployment.IsNormal;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.builditem.RunTimeConfigurationDefaultBuildItem;

/**
 * Dev Services: in dev and test mode, models placed in workers are served by one local worker daemon shared by all
 * the user's applications and tests. It is found again through its socket (never started twice), outlives live
 * reloads, and leaves by itself a little after its last application disconnected.
 */
class ModelSharingDevServicesProcessor {

    private static final Logger LOG = Logger.getLogger(ModelSharingDevServicesProcessor.class);

    @BuildStep(onlyIfNot = IsNormal.class)
    void sharedWorker(ModelSharingBuildTimeConfig config, ConfiguredModelsBuildItem models,
            BuildProducer<RunTimeConfigurationDefaultBuildItem> defaults) {
        Config raw = ConfigProvider.getConfig();
        boolean placed = models.paths().keySet().stream().anyMatch(name -> "worker".equalsIgnoreCase(
                property(raw, "quarkus.model-sharing.models." + name + ".placement")
                        .or(() -> property(raw, "quarkus.model-sharing.models.\"" + name + "\".placement")).orElse("")));
        if (!config.devservices().enabled() || !placed || property(raw, "quarkus.model-sharing.workers.socket").isPresent()) {
            return;
        }
        Path socket = socket();
        if (answers(socket)) {
            LOG.infof("Dev Services for Quarkus Model Sharing: using the shared worker daemon on %s", socket);
        } else {
            long pid = start(socket, config.devservices().linger().toSeconds());
            LOG.infof("Dev Services for Quarkus Model Sharing: started a shared worker daemon (pid %d) on %s; it stops %d s"
                    + " after its last application disconnects", pid, socket, config.devservices().linger().toSeconds());
        }
        defaults.produce(new RunTimeConfigurationDefaultBuildItem("quarkus.model-sharing.workers.mode", "external"));
        defaults.produce(new RunTimeConfigurationDefaultBuildItem("quarkus.model-sharing.workers.socket", socket.toString()));
        defaults.produce(new RunTimeConfigurationDefaultBuildItem("quarkus.model-sharing.workers.register-models", "true"));
    }

    /** The daemon's socket, in the user's private shared-memory directory. */
    static Path socket() {
        try {
            int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            Path directory = Path.of("/dev/shm", "quarkus-model-sharing-" + uid);
            if (!Files.isDirectory(directory)) {
                Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
            }
            return directory.resolve("devservices-worker.sock");
        } catch (IOException e) {
            throw new ModelSharingException("Dev Services cannot prepare the worker daemon's directory: " + e.getMessage(), e);
        }
    }

    private static long start(Path socket, long lingerSeconds) {
        try {
            String classpath = location(WorkerMain.class) + java.io.File.pathSeparator + location(OrtEnvironment.class);
            Process daemon = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                    "-cp", classpath, WorkerMain.class.getName(), "--socket", socket.toString(), "--name", "devservices",
                    "--dynamic-models", "--exit-when-idle", lingerSeconds + "s")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(daemon.getInputStream()));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    return null;
                }
            }).get(60, TimeUnit.SECONDS);
            if (line == null || !line.contains("listening on")) {
                daemon.destroyForcibly();
                if (answers(socket)) {
                    return -1; // another build started one at the same moment: use that
                }
                throw new ModelSharingException("Dev Services could not start the shared worker daemon on " + socket);
            }
            return daemon.pid();
        } catch (Exception e) {
            throw e instanceof ModelSharingException known ? known
                    : new ModelSharingException("Dev Services could not start the shared worker daemon: " + e.getMessage(), e);
        }
    }

    static boolean answers(Path socket) {
        if (!Files.exists(socket)) {
            return false;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Optional<String> property(Config config, String name) {
        return config.getOptionalValue(name, String.class);
    }

    private static String location(Class<?> type) throws URISyntaxException {
        return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

}
