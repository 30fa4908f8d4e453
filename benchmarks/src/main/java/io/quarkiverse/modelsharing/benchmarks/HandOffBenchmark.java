package io.quarkiverse.modelsharing.benchmarks;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
import io.quarkiverse.modelsharing.shm.PeerPools;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.vertx.core.buffer.Buffer;

/**
 * Handing a tensor to a consumer, for 1 KiB to 1 GiB:
 * <ul>
 * <li>same process: what the event bus does per consumer with our codec ({@code transform}: a retained read-only
 * view), with Vert.x's {@code Buffer} codec (a copy of the bytes), and with Java serialization;</li>
 * <li>across processes: decoding a descriptor that another JVM wrote and opening the view of its memory (its named
 * pool file mapped once, as a long-lived receiver has it);</li>
 * <li>over a worker connection: opening the view of a memfd pool that the peer sent as a file descriptor (what a
 * worker does for each input, and a client for each output: the same {@code PeerPools} code a socket peer uses,
 * given this process's own pool).</li>
 * </ul>
 * The event bus's own dispatch is the same for all three and is not part of the figure.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class HandOffBenchmark {

    @Param({ "1024", "1048576", "67108864", "1073741824" })
    public long bytes;

    private BenchmarkShm shm;
    private SharedMemoryPool pool;
    private Tensor tensor;
    private Buffer buffer;
    private float[] array;
    private final TensorMessageCodec codec = new TensorMessageCodec();
    private Process producer;
    private byte[] foreignDescriptor;
    private SharedMemoryPool memfdPool;
    private Tensor memfdTensor;
    private PeerPools peer;
    private byte[] peerDescriptor;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        shm = new BenchmarkShm(64L << 20, 3L << 30, true);
        pool = shm.pool;
        TensorMessageCodec.configure(pool, Duration.ofSeconds(30));
        tensor = pool.allocate(DType.F32, bytes / 4);
        buffer = Buffer.buffer(tensor.toByteArray());
        array = new float[(int) (bytes / 4)];
        producer = ChildJvm.start(DescriptorHolder.class.getName(), shm.root.toString(), Long.toString(bytes));
        String line = new BufferedReader(new InputStreamReader(producer.getInputStream())).readLine();
        foreignDescriptor = HexFormat.of().parseHex(line);
        pool.open(TensorDescriptor.decode(foreignDescriptor)).close(); // map the other process's pool once
        memfdPool = SharedMemoryPool.open(new SharedMemorySettings(shm.root, 64L << 20, 3L << 30, Duration.ofSeconds(1)));
        memfdTensor = memfdPool.allocate(DType.U8, bytes);
        TensorDescriptor described = memfdPool.describe(memfdTensor);
        peer = new PeerPools("benchmark peer", 16);
        peer.accept(described.poolId(), memfdPool.descriptorForPeer(described.poolId()),
                memfdPool.poolBytes(described.poolId()));
        peerDescriptor = described.encode();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        producer.getOutputStream().close();
        producer.waitFor(30, TimeUnit.SECONDS);
        tensor.close();
        peer.close();
        memfdTensor.close();
        memfdPool.close();
        shm.close();
    }

    @Benchmark
    public long oursSameProcessReference() {
        try (Tensor received = codec.transform(tensor)) {
            return received.byteSize();
        }
    }

    @Benchmark
    public long oursAcrossProcessesDescriptor() {
        try (Tensor received = pool.open(TensorDescriptor.decode(foreignDescriptor))) {
            return received.byteSize();
        }
    }

    @Benchmark
    public long oursOverAConnectionMemfdView() {
        try (Tensor received = peer.open(TensorDescriptor.decode(peerDescriptor), null)) {
            return received.byteSize();
        }
    }

    @Benchmark
    public int baselineVertxBufferCopy() {
        return buffer.copy().length();
    }

    @Benchmark
    public int baselineJavaSerialization() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(bytes + 1024, Integer.MAX_VALUE - 16));
        try (ObjectOutputStream objects = new ObjectOutputStream(out)) {
            objects.writeObject(array);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(out.toByteArray()))) {
            return ((float[]) in.readObject()).length;
        }
    }

}
