package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * Two owners of named pools in different PID namespaces (one under {@code unshare -p}, as pods sharing /dev/shm
 * are) and this test's own janitor, all sweeping one directory every 100-200 ms: for 10 s, across many sweeps, no one
 * takes the other for dead; both pools stay and keep their values.
 */
class PidNamespaceTest {

    final ShmTestRoot shm = new ShmTestRoot();

    @AfterEach
    void removeRoot() {
        shm.close();
    }

    @Test
    void ownersInOtherPidNamespacesAreNotTakenForDead() throws Exception {
        List<Process> owners = new ArrayList<>();
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.namedSettings(1 << 20, 8 << 20))) {
            List<String> command = new ArrayList<>(List.of("unshare", "-p", "-f", "--mount-proc", "--kill-child"));
            command.addAll(ShmChild.command("serve", shm.root.toString(), "1").command());
            owners.add(new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start());
            owners.add(ShmChild.command("serve", shm.root.toString(), "2").start());
            List<TensorDescriptor> descriptors = new ArrayList<>();
            for (Process owner : owners) {
                String line = new BufferedReader(new InputStreamReader(owner.getInputStream())).readLine();
                assertTrue(line != null && line.matches("[0-9a-f]+"), "the owner said: " + line);
                descriptors.add(TensorDescriptor.decode(HexFormat.of().parseHex(line)));
            }
            long start = System.nanoTime();
            int reads = 0;
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10)) {
                for (int i = 0; i < 2; i++) {
                    assertTrue(owners.get(i).isAlive(), "owner " + i + " is serving");
                    assertTrue(Files.exists(pool.directory().resolve("pool-" + descriptors.get(i).poolId() + ".shm")),
                            "owner " + i + "'s pool is still there after " + reads + " reads");
                    try (Tensor t = pool.open(descriptors.get(i))) {
                        assertEquals(1000f * (i + 1), sum(t), "owner " + i + "'s values");
                    }
                    reads++;
                }
                Thread.sleep(50); // pacing the observation over the janitors' periods; nothing waits on this
            }
            assertTrue(reads > 100, reads + " reads");
        } finally {
            for (Process owner : owners) {
                List<ProcessHandle> children = owner.descendants().toList(); // the JVM that unshare forked
                owner.destroyForcibly(); // unshare --kill-child passes the SIGKILL on to it
                owner.waitFor(10, TimeUnit.SECONDS);
                for (ProcessHandle child : children) {
                    child.onExit().get(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static float sum(Tensor t) {
        float sum = 0;
        for (long i = 0; i < t.elementCount(); i++) {
            sum += t.getFloat(i);
        }
        return sum;
    }
}
