package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * The documented Python reader (docs/modules/ROOT/examples/qms_tensor.py) maps a tensor that Java wrote and reads it
 * as a NumPy view, without a copy, and writes into a tensor that Java then reads.
 */
class NumpyInteropTest {

    static final Path READER = Path.of("..", "docs", "modules", "ROOT", "examples").toAbsolutePath().normalize();
    final ShmTestRoot shm = new ShmTestRoot();

    @AfterEach
    void removeRoot() {
        shm.close();
    }

    @Test
    void numpyReadsJavasTensorInPlaceAndWritesOneJavaReads() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.namedSettings(1 << 20, 4 << 20));
                Tensor input = pool.allocate(DType.F32, 3, 4);
                Tensor output = pool.allocate(DType.F64, 5)) {
            for (int i = 0; i < 12; i++) {
                input.setFloat(i, i * 0.5f);
            }
            String script = """
                    import sys, mmap
                    import numpy as np
                    import qms_tensor as q
                    directory, given, result = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
                    a = q.open_tensor(directory, q.read_descriptor(given))
                    assert a.shape == (3, 4) and a.dtype == np.float32, (a.shape, a.dtype)
                    assert not a.flags.owndata, "a view, not a copy"
                    base = a
                    while isinstance(base, np.ndarray):
                        base = base.base
                    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap), type(base)
                    out = q.open_tensor(directory, q.read_descriptor(result), writable=True)
                    out[:] = [a.sum(), a[2, 3], a.mean(), float(a.shape[0]), float(a.shape[1])]
                    print("ok", a.sum())
                    """;
            ProcessBuilder command = new ProcessBuilder("python3", "-c", script, pool.directory().toString(),
                    HexFormat.of().formatHex(pool.describe(input).encode()),
                    HexFormat.of().formatHex(pool.describe(output).encode()))
                    .redirectErrorStream(true);
            command.environment().put("PYTHONPATH", READER.toString());
            command.environment().put("PYTHONDONTWRITEBYTECODE", "1");
            Process python = command.start();
            String said = new String(python.getInputStream().readAllBytes()).trim();
            assertTrue(python.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, python.exitValue(), said);
            assertEquals("ok 33.0", said);
            assertArrayEquals(new double[] { 33, 5.5, 2.75, 3, 4 }, output.toDoubleArray(), 1e-9,
                    "Java reads what NumPy wrote into shared memory");
        }
    }

    static {
        assertTrue(Files.exists(READER.resolve("qms_tensor.py")), "the documented reader is at " + READER);
    }
}
