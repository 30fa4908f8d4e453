package io.quarkiverse.modelsharing.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * An application with managed workers that is killed by SIGKILL, and so cannot stop them, leaves no worker process
 * behind: each worker watches its application and leaves within 2 s.
 */
class KilledApplicationTest {

    @Test
    void aSigkilledApplicationLeavesNoWorkerTwoSecondsLater() throws Exception {
        // /dev/shm as the application has it: a test root's longer path would not fit a socket address
        Path shm = Path.of("/dev/shm");
        Path model = Files.write(Path.of("target", "killed-application-affine.onnx").toAbsolutePath(), TinyModels.affine());
        {
            Process application = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                    "-cp", System.getProperty("java.class.path"), ManagedPoolMain.class.getName(), model.toString(),
                    shm.toString()).redirectErrorStream(true).start();
            List<ProcessHandle> workers = List.of();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(application.getInputStream()));
                StringBuilder said = new StringBuilder();
                String line;
                while ((line = out.readLine()) != null && !line.equals("ready")) {
                    said.append(line).append('\n'); // the application's log
                }
                assertEquals("ready", line, "the application started its worker; it said:\n" + said);
                workers = application.toHandle().children().toList();
                assertEquals(1, workers.size(), "one worker, a child of the application: " + workers);
                assertTrue(workers.get(0).info().arguments().map(List::of).orElseThrow().contains("--parent-pid"));

                application.destroyForcibly(); // SIGKILL: it cannot stop its worker
                assertTrue(application.waitFor(10, TimeUnit.SECONDS));
                long killed = System.nanoTime();
                while (workers.get(0).isAlive()) {
                    if (System.nanoTime() - killed > TimeUnit.SECONDS.toNanos(2)) {
                        fail("worker pid " + workers.get(0).pid() + " still runs 2 s after its application was killed");
                    }
                    Thread.sleep(20);
                }
            } finally {
                application.destroyForcibly();
                application.waitFor(10, TimeUnit.SECONDS);
                for (ProcessHandle worker : workers) {
                    worker.destroyForcibly();
                    worker.onExit().get(10, TimeUnit.SECONDS);
                }
                Files.delete(model);
                // what the killed application could not remove: its workers' socket directory
                Path sockets = shm.resolve("quarkus-model-sharing-" + ShmTestRoots.uid())
                        .resolve("workers-" + application.pid());
                if (Files.isDirectory(sockets)) {
                    try (var files = Files.list(sockets)) {
                        for (Path file : files.toList()) {
                            Files.delete(file);
                        }
                    }
                    Files.delete(sockets);
                }
                try {
                    Files.delete(sockets.getParent());
                } catch (java.nio.file.DirectoryNotEmptyException inUse) {
                    // another process of this user uses it
                } catch (java.nio.file.NoSuchFileException gone) {
                    // nothing was left
                }
            }
        }
    }
}
