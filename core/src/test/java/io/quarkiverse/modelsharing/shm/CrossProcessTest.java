package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/** Another JVM maps a tensor from its descriptor; a killed JVM's pools are gone within 5 s. */
class CrossProcessTest {

    final ShmTestRoot shm = new ShmTestRoot();

    @AfterEach
    void removeRoot() {
        shm.close();
    }

    @Test
    void anotherProcessReadsATensorFromItsDescriptor() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.namedSettings(1 << 20, 8 << 20));
                Tensor t = pool.allocate(DType.F32, 1000)) {
            for (int i = 0; i < 1000; i++) {
                t.setFloat(i, i);
            }
            String descriptor = HexFormat.of().formatHex(pool.describe(t).encode());
            Process child = ShmChild.command("read", shm.root.toString(), descriptor).start();
            String output = new String(child.getInputStream().readAllBytes()).trim();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue(), output);
            assertEquals("499500.0", output, "the child summed the parent's memory");
        }
    }

    @Test
    void aKilledProcessLeavesNothingBehindFiveSecondsLater() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.namedSettings(1 << 20, 8 << 20))) {
            Process child = ShmChild.command("hold", shm.root.toString()).start();
            try {
                String ready = new BufferedReader(new InputStreamReader(child.getInputStream())).readLine();
                assertTrue(ready != null && ready.startsWith("ready"), "child said: " + ready);
                assertEquals(2, shm.poolFiles(), "the child made two pool files");
            } finally {
                child.destroyForcibly(); // SIGKILL: no shutdown hook runs
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            }
            long killed = System.nanoTime();
            while (shm.poolFiles() > 0 && System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(5)) {
                Thread.sleep(50);
            }
            assertEquals(0, shm.poolFiles(), "the janitor removed the dead process's pools within 5 s");
            assertEquals(137, child.exitValue(), "the child died of SIGKILL");
        }
    }
}
