package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/** The janitor: judges owners by their lock, skips names it does not know once, and says a vanished directory once. */
class JanitorTest {

    final ShmTestRoot shm = new ShmTestRoot();
    final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    final Logger logger = Logger.getLogger(Janitor.class.getName());
    final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            logged.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void listen() {
        logger.addHandler(handler);
        logger.setLevel(Level.ALL);
    }

    @AfterEach
    void removeRoot() {
        logger.removeHandler(handler);
        shm.close();
    }

    @Test
    void unlockedPoolsGoLiveOnesStayAndOddNamesAreSkippedWithOneLineEach() throws Exception {
        // the pool's own janitor sweeps once an hour here: only the sweeps below run
        SharedMemorySettings settings = new SharedMemorySettings(shm.root, 1 << 20, 4 << 20, java.time.Duration.ofHours(1),
                true);
        try (SharedMemoryPool pool = SharedMemoryPool.open(settings);
                Tensor live = pool.allocate(DType.F32, 16)) {
            Path directory = pool.directory();
            Path dead = Files.write(directory.resolve("pool-" + "ab".repeat(16) + ".shm"), new byte[4096]);
            Path crashedCreation = Files.write(directory.resolve(".pool-" + "cd".repeat(16) + ".tmp"), new byte[16]);
            Path oversizedPid = Files.write(directory.resolve("pool-" + "ef".repeat(16) + "-99999999999999999999-1.shm"),
                    new byte[0]);
            Path notHex = Files.write(directory.resolve("pool-zz.shm"), new byte[0]);
            Janitor janitor = new Janitor(directory, () -> true);
            assertEquals(2, janitor.sweep(), "the unlocked pool and the unlocked creation leftover");
            assertTrue(!Files.exists(dead) && !Files.exists(crashedCreation));
            assertTrue(Files.exists(oversizedPid) && Files.exists(notHex), "names it does not know are left alone");
            assertTrue(Files.exists(directory.resolve("pool-" + pool.describe(live).poolId() + ".shm")),
                    "this process's own pool is locked by it: alive");
            assertEquals(0, janitor.sweep());
            List<String> skipped = logged.stream().filter(r -> r.getLevel() == Level.INFO)
                    .map(r -> java.text.MessageFormat.format(r.getMessage(), r.getParameters())).sorted().toList();
            assertEquals(List.of("Skipping " + oversizedPid.getFileName() + " in " + directory
                    + ": not a pool file name this version knows",
                    "Skipping pool-zz.shm in " + directory + ": not a pool file name this version knows"), skipped,
                    "one line each, not one per sweep");
        }
    }

    @Test
    void aRemovedDirectoryIsOneWarningWithoutAStackTrace() throws Exception {
        Path directory = shm.root.resolve("quarkus-model-sharing-" + PrivateDirectory.uid());
        for (int i = 0; i < 10; i++) {
            assertEquals(0, new Janitor(directory, () -> false).sweep());
        }
        assertEquals(List.of(), logged.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue()).toList(),
                "an empty directory that its last user removed is nothing to report");
        Janitor janitor = new Janitor(directory, () -> true);
        for (int i = 0; i < 10; i++) {
            assertEquals(0, janitor.sweep());
        }
        List<LogRecord> warnings = logged.stream().filter(r -> r.getLevel() == Level.WARNING).toList();
        assertEquals(1, warnings.size(), "ten sweeps, one warning");
        assertEquals("The shared-memory directory " + directory + " was removed with this process's pool files in it;"
                + " it is made again when this process next needs a named pool file", warnings.get(0).getMessage());
        assertNull(warnings.get(0).getThrown(), "no stack trace");
    }
}
