package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.PeerChild;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * Ten short-lived clients, one after another, each in a JVM of its own that exits without closing anything, against
 * one long-lived worker: afterwards the worker maps no pool of theirs, nor the output pools it made for them, and the
 * machine's shared memory is back to where it was.
 */
class ShortLivedClientsTest {

    @Test
    void aWorkerKeepsNoPoolOfAClientThatIsGone() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create();
                PeerChild.Worker worker = PeerChild.startWorker(shm.root, "long-lived", List.of())) {
            Path socket = worker.socket();
            long baseline = KilledWorkerTest.shmemBytes();
            Path maps = Path.of("/proc", Long.toString(worker.pid()), "maps");
            List<String> pools = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                Process client = PeerChild.command("client", socket.toString(), Long.toString(16L << 20), "exit")
                        .start();
                List<String> said = new String(client.getInputStream().readAllBytes()).lines().toList();
                assertTrue(client.waitFor(60, TimeUnit.SECONDS));
                assertEquals(2, said.size(), said.toString());
                assertEquals("ok", said.get(1));
                pools.add(said.get(0).substring("pool ".length()));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (memfdPools(maps) > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            String mapped = Files.readString(maps);
            for (String pool : pools) {
                assertTrue(!mapped.contains("qms-pool-" + pool), "the worker still maps pool " + pool);
            }
            assertEquals(0, memfdPools(maps), "nor any output pool of a closed connection:\n" + mapped);
            while (KilledWorkerTest.shmemBytes() > baseline + (48L << 20) && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(KilledWorkerTest.shmemBytes() <= baseline + (48L << 20),
                    "ten 16 MiB pools came back (48 MiB of slack for other processes of the machine): "
                            + KilledWorkerTest.shmemBytes() + " bytes of shared memory in use, " + baseline + " before");
            assertTrue(worker.process().isAlive());
        }
    }

    /** Pool mappings (memfds of this project) in a process's maps. */
    private static long memfdPools(Path maps) throws Exception {
        return Files.readAllLines(maps).stream().filter(line -> line.contains("/memfd:qms-pool-")).count();
    }
}
