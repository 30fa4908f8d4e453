package io.quarkiverse.modelsharing.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.registry.ModelRegistry;

/**
 * Dev mode: reloads a model when its file is edited or replaced, without restarting the application. Open handles
 * keep the old version until they close; the next call gets the new one.
 */
final class ModelFileWatcher implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(ModelFileWatcher.class);
    static final long POLL_MILLIS = 250;

    private final ModelRegistry registry;
    private final Map<String, Path> files = new HashMap<>();
    private final Map<String, Object> stamps = new HashMap<>();
    private final ScheduledExecutorService poller;

    ModelFileWatcher(ModelRegistry registry, Map<String, String> paths, ClassLoader classLoader) {
        this.registry = registry;
        paths.forEach((name, path) -> {
            Optional<Path> file = ModelSource.parse(path, classLoader).localFile();
            file.ifPresent(f -> {
                files.put(name, f);
                stamps.put(name, stamp(f));
            });
        });
        this.poller = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                .name("model-file-watcher").factory());
        poller.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void poll() {
        files.forEach((name, file) -> {
            Object stamp = stamp(file);
            if (!Objects.equals(stamp, stamps.get(name))) {
                stamps.put(name, stamp);
                if (stamp != null) {
                    registry.reload(name);
                    LOG.infof("Model '%s' changed on disk (%s): the next call loads the new version", name, file);
                } else {
                    LOG.warnf("Model '%s' was removed from disk (%s): the loaded version stays until it is evicted", name,
                            file);
                }
            }
        });
    }

    /** Size and modification time, which a copy, an edit or a rename over the file all change; null if missing. */
    private static Object stamp(Path file) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return attributes.size() + "@" + attributes.lastModifiedTime().toMillis() + "#" + attributes.fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }
}
