package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * A worker started with {@code --parent-pid} leaves when that process dies, even by SIGKILL, which gives it no chance to
 * stop its workers; and it refuses to start for a parent that is already gone.
 */
class WorkerParentWatchTest {

    @Test
    void aWorkerLeavesWithinTwoSecondsOfItsParentsSigkill() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
            Path socket = shm.root.resolve("worker.sock");
            // a stand-in for the application: any process the worker is told is its parent
            Process parent = new ProcessBuilder("sleep", "600").start();
            Process worker = null;
            try {
                worker = worker(socket, shm.root, "--model", "affine=" + model, "--parent-pid", Long.toString(parent.pid()))
                        .start();
                assertEquals("worker orphan listening on " + socket,
                        new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine());
                parent.destroyForcibly(); // SIGKILL
                assertTrue(worker.waitFor(2, TimeUnit.SECONDS), "the worker left within 2 s of its parent's death");
                assertEquals("worker orphan: its parent process " + parent.pid() + " ended; exiting",
                        new String(worker.getErrorStream().readAllBytes()).trim());
                assertFalse(Files.exists(socket), "and took its socket with it");
            } finally {
                parent.destroyForcibly();
                parent.waitFor(10, TimeUnit.SECONDS);
                if (worker != null) {
                    worker.destroyForcibly();
                    worker.waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    @Test
    void aWorkerWhoseParentIsGoneSaysSoAndDoesNotStart() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Process gone = new ProcessBuilder("true").start();
            assertTrue(gone.waitFor(10, TimeUnit.SECONDS));
            Process worker = worker(shm.root.resolve("worker.sock"), shm.root, "--dynamic-models", "--parent-pid",
                    Long.toString(gone.pid())).start();
            try {
                assertTrue(worker.waitFor(30, TimeUnit.SECONDS));
                assertEquals(2, worker.exitValue());
                assertEquals("--parent-pid " + gone.pid()
                        + ": no such process; a worker with a parent serves only while its parent runs",
                        new String(worker.getErrorStream().readAllBytes()).trim());
            } finally {
                worker.destroyForcibly();
                worker.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aParentPidMustBeANumber() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Process worker = worker(shm.root.resolve("worker.sock"), shm.root, "--dynamic-models", "--parent-pid", "app")
                    .start();
            try {
                assertTrue(worker.waitFor(30, TimeUnit.SECONDS));
                assertEquals(2, worker.exitValue());
                String said = new String(worker.getErrorStream().readAllBytes()).trim();
                assertTrue(said.startsWith("--parent-pid takes a process id, not app\nusage: WorkerMain"), said);
            } finally {
                worker.destroyForcibly();
                worker.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static ProcessBuilder worker(Path socket, Path shmDir, String... options) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"), "-cp",
                System.getProperty("java.class.path"), WorkerMain.class.getName(), "--socket", socket.toString(), "--name",
                "orphan", "--shm-dir", shmDir.toString(), "--shm-max", "64M"));
        command.addAll(List.of(options));
        return new ProcessBuilder(command);
    }
}
