package io.quarkiverse.modelsharing.devservices;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.worker.WorkerMain;
import io.quarkiverse.modelsharing.worker.WorkerServer;

/**
 * The user's shared Dev Services worker daemon: one per user and host, at a fixed socket in the user's private
 * shared-memory directory, so that every application and test of the user finds the same one. It registers whatever
 * models its applications ask for, and exits by itself a while after its last application disconnected.
 *
 * @param socket where it listens
 * @param pid its process id if this call started it, or -1 if it was already running
 */
record SharedWorkerDaemon(Path socket, long pid) {

    private static final String SOCKET_NAME = "devservices-worker.sock";

    /**
     * Finds the daemon through its socket in the user's private shared-memory directory (created, and checked to be
     * the user's, if needed), or starts it; a daemon started elsewhere at the same moment is used.
     */
    static SharedWorkerDaemon findOrStart(long lingerSeconds) {
        Path socket = SharedMemorySettings.defaults().prepareDirectory().resolve(SOCKET_NAME);
        return WorkerServer.answers(socket) ? new SharedWorkerDaemon(socket, -1) : start(socket, lingerSeconds);
    }

    boolean startedHere() {
        return pid >= 0;
    }

    private static SharedWorkerDaemon start(Path socket, long lingerSeconds) {
        Process daemon = null;
        try {
            List<String> command = new ArrayList<>(WorkerMain.command(WorkerMain.classpath()));
            command.addAll(List.of("--socket", socket.toString(), "--name", "devservices", "--dynamic-models",
                    "--exit-when-idle", lingerSeconds + "s"));
            daemon = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(daemon.getInputStream()));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    return null;
                }
            }).get(60, TimeUnit.SECONDS);
            if (line != null && line.contains("listening on")) {
                return new SharedWorkerDaemon(socket, daemon.pid());
            }
            daemon.destroyForcibly();
            if (WorkerServer.answers(socket)) {
                return new SharedWorkerDaemon(socket, -1); // another build started one at the same moment: use that
            }
            throw new ModelSharingException("Dev Services could not start the shared worker daemon on " + socket
                    + (line == null ? ": it exited before listening" : ": it said " + line));
        } catch (ModelSharingException e) {
            throw e;
        } catch (Exception e) {
            if (daemon != null) {
                daemon.destroyForcibly();
            }
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new ModelSharingException("Dev Services could not start the shared worker daemon on " + socket + ": "
                    + e.getMessage(), e);
        }
    }
}
