package io.quarkiverse.modelsharing.worker;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixServerSocket;
import io.quarkiverse.modelsharing.shm.PrivateDirectory;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * The user's shared worker daemon of Dev Services: one per user and shared-memory root, at a fixed socket in the user's
 * private directory, so that every application and test of the user finds the same one. It registers whatever models
 * its applications ask for, and exits by itself once it has been idle for its linger and no process that connected to
 * it still runs.
 * <p>
 * It lives here, not in the Dev Services module, because two sides find or start it: Dev Services' build step, and the
 * application's worker connection when the daemon is gone at its next call (ended, or killed); the application's
 * run time cannot depend on a deployment module, and both must agree on the socket and the command line.
 *
 * @param socket where it listens
 * @param pid its process id if this call started it, or -1 if it was already running
 */
public record SharedWorkerDaemon(Path socket, long pid) {

    /** Starts a program in a new session, away from the starting terminal's signals (util-linux). */
    private static final Path SETSID = Path.of("/usr/bin/setsid");

    /**
     * The daemon's socket under shared-memory root {@code shmRoot} (normally {@code /dev/shm}), in the user's private
     * directory, created and checked to be the user's if needed. Its name carries the protocol's version and a
     * fingerprint of the daemon's class path (each jar's path, size and time): an application of another version never
     * finds, or keeps alive, a daemon whose code differs from its own; it starts its own beside it.
     */
    public static Path socketUnder(Path shmRoot) {
        return SharedMemorySettings.defaults().withRoot(shmRoot).prepareDirectory().resolve(socketName());
    }

    /** {@code devservices-v<protocol>-<fingerprint>.sock}: each class path entry's fingerprint, hashed to 8 digits. */
    static String socketName() {
        String code = WorkerMain.classpath().stream().map(entry -> ModelSource.file(Path.of(entry)).fingerprint())
                .collect(Collectors.joining(";"));
        return "devservices-v" + FrameCodec.VERSION + "-" + String.format("%08x", code.hashCode()) + ".sock";
    }

    /**
     * Finds the daemon listening on {@code socket}, or starts it there, exiting {@code linger} after its last user; a
     * daemon started elsewhere at the same moment is used (one of two that bind the same socket wins, the other
     * exits). Calls of one process are serialised, so that its connections do not start one each.
     *
     * @throws ModelSharingException if it cannot be started, with what it said
     */
    public static synchronized SharedWorkerDaemon findOrStart(Path socket, Duration linger) {
        return UnixServerSocket.answers(socket) ? new SharedWorkerDaemon(socket, -1) : start(socket, linger);
    }

    /** Whether this process started it. */
    public boolean startedHere() {
        return pid >= 0;
    }

    /**
     * Finds or starts the daemon as {@link #findOrStart} does, then connects once (hello, then close): the daemon learns
     * this process's pid and stays while it runs, even if its first model call comes long after the daemon's linger. A
     * daemon that leaves between being found and the hello (its linger ran out at that moment) is started again.
     *
     * @param client the name this process gives in its hello
     * @throws ModelSharingException if it cannot be started; WorkerUnavailableException if it never answers
     */
    public static SharedWorkerDaemon findOrStartFor(Path socket, Duration linger, String client) {
        for (int attempt = 1;; attempt++) {
            SharedWorkerDaemon daemon = findOrStart(socket, linger);
            try {
                WorkerClient.connect(socket, TensorAllocator.offHeap(), client).close();
                return daemon;
            } catch (WorkerUnavailableException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    private static SharedWorkerDaemon start(Path socket, Duration linger) {
        Process daemon = null;
        try {
            PrivateDirectory.prepare(socket.toAbsolutePath().getParent()); // the last daemon out may have removed it
            List<String> command = new ArrayList<>(WorkerMain.command(WorkerMain.classpath()));
            command.addAll(List.of("--socket", socket.toString(), "--name", "devservices", "--dynamic-models",
                    "--exit-when-idle", linger.toMillis() + "ms", "--shm-dir",
                    socket.toAbsolutePath().getParent().getParent().toString()));
            // In a session of its own: it serves every application of the user, so a Ctrl+C or Ctrl+Z in the terminal
            // of the one that started it (which signals that terminal's whole process group) must not stop it.
            if (Files.isExecutable(SETSID)) {
                command.addFirst(SETSID.toString());
            }
            daemon = new ProcessBuilder(command).start();
            // Its output goes to the log of the process that started it while that runs: a pipe nobody reads would
            // block the daemon once full, and what it says when it cannot start is the reason to report.
            WorkerOutput output = WorkerOutput.drain("devservices", daemon);
            if (output.listening().get(60, TimeUnit.SECONDS)) {
                return new SharedWorkerDaemon(socket, daemon.pid());
            }
            daemon.waitFor(5, TimeUnit.SECONDS);
            String said = output.errors(Duration.ofSeconds(2));
            if (UnixServerSocket.answers(socket)) {
                return new SharedWorkerDaemon(socket, -1); // another process started one at the same moment: use that
            }
            daemon.destroyForcibly();
            throw new ModelSharingException("Dev Services could not start the shared worker daemon on " + socket
                    + (daemon.isAlive() ? ": it closed its output" : ": it exited with " + daemon.exitValue())
                    + " before listening"
                    + (said.isEmpty() ? " and said nothing" : ", saying:\n" + said));
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
                    + (e instanceof java.util.concurrent.TimeoutException ? "it did not listen within 60 s" : e.getMessage()),
                    e);
        }
    }
}
