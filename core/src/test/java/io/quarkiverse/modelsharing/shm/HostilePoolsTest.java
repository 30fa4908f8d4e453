package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerClient;

/**
 * Pools and descriptors a hostile client sends to hurt a worker in a JVM of its own, and what the worker does: a
 * share-pool frame instead of the hello leaks nothing, descriptors sent ahead of any frame that takes them are closed
 * and cut the connection off, and pools that cost no memory but address space are refused past a bound. A good client
 * is served throughout.
 */
class HostilePoolsTest {

    static final AtomicLong IDS = new AtomicLong(1);

    @Test
    void aSharedPoolInsteadOfTheHelloLeavesNothingInTheWorker() throws Exception {
        withWorker((socket, pid) -> {
            for (int i = 0; i < 50; i++) {
                try (FrameChannel channel = new FrameChannel(UnixSocket.connect(socket), new FrameCodec())) {
                    int fd = Libc.memfdCreate("attacker-hello");
                    Libc.fallocate(fd, 1 << 20);
                    channel.write(new Frame.SharePool(0, poolId(), 1 << 20, fd));
                    Libc.close(fd);
                    assertEquals("expected a version-" + FrameCodec.VERSION + " hello, got SharePool[requestId=0, poolId="
                            + String.format("%032x", IDS.get()) + ", bytes=1048576, descriptor=",
                            ((Frame.Error) channel.read()).message().replaceAll("descriptor=\\d+]$", "descriptor="));
                }
            }
            awaitFds(pid, "attacker-hello", 0);
            assertEquals("ok", goodClient(socket));
        });
    }

    @Test
    void descriptorsAheadOfTheirFramesAreClosedAndCutTheConnection() throws Exception {
        withWorker((socket, pid) -> {
            FrameChannel channel = hello(socket);
            UnixSocket raw = channel.socket();
            int fd = Libc.memfdCreate("attacker-hoard");
            int sent = 0;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment header = arena.allocate(20);
                header.set(ValueLayout.JAVA_INT_UNALIGNED, 0, FrameCodec.MAGIC);
                header.set(ValueLayout.JAVA_BYTE, 4, (byte) FrameCodec.VERSION);
                header.set(ValueLayout.JAVA_BYTE, 5, (byte) 11); // a heartbeat whose payload never quite arrives
                header.set(ValueLayout.JAVA_INT_UNALIGNED, 16, 1 << 20);
                raw.write(header, 20, -1);
                MemorySegment one = arena.allocate(1);
                for (; sent < 5_000; sent++) {
                    raw.write(one, 1, fd); // one byte, one descriptor
                    // 8 may wait for a frame; a read installs what it receives before it closes the excess
                    assertTrue(fds(pid, "attacker-hoard") <= 16, "the worker holds at most the 8 descriptors a frame"
                            + " may wait for, and those one read brings");
                }
            } catch (IOException e) {
                // the worker cut the connection off
            } finally {
                Libc.close(fd);
                channel.close();
            }
            assertTrue(sent < 5_000, "the worker hung up on the hoarder after " + sent + " descriptors");
            awaitFds(pid, "attacker-hoard", 0);
            assertEquals("ok", goodClient(socket));
        });
    }

    @Test
    void poolsThatCostAddressSpaceButNoMemoryAreBounded() throws Exception {
        withWorker((socket, pid) -> {
            long before = vmSizeKb(pid);
            List<FrameChannel> connections = new ArrayList<>();
            try {
                for (int c = 0; c < 4; c++) {
                    FrameChannel channel = hello(socket);
                    connections.add(channel);
                    for (int i = 0; i < 2; i++) { // 2 x 8 GiB: the 16 GiB a connection may have mapped
                        share(channel, 8L << 30);
                        channel.write(new Frame.Status(IDS.incrementAndGet()));
                        assertTrue(channel.read() instanceof Frame.StatusReply);
                    }
                    share(channel, 1L << 30);
                    Frame.Error refused = (Frame.Error) channel.read();
                    assertTrue(refused.message().endsWith(" sent a pool of 1073741824 bytes; with the 17179869184 it has"
                            + " mapped, that is past its 17179869184-byte bound"), refused.message());
                }
                long grown = vmSizeKb(pid) - before;
                assertTrue(grown < 4 * (16L << 20) + (1L << 20), "address space grew by " + (grown >> 20) + " GiB");
                assertEquals("ok", goodClient(socket));
            } finally {
                connections.forEach(FrameChannel::close);
            }
        });
    }

    interface Attack {
        void run(Path socket, long pid) throws Exception;
    }

    static void withWorker(Attack attack) throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create();
                PeerChild.Worker worker = PeerChild.startWorker(shm.root, "hostile", List.of())) {
            attack.run(worker.socket(), worker.pid());
            assertTrue(worker.process().isAlive());
        }
    }

    static void share(FrameChannel channel, long size) throws IOException {
        int fd = Libc.memfdCreate("attacker-vm");
        try (RandomAccessFile file = new RandomAccessFile("/proc/self/fd/" + fd, "rw")) {
            file.setLength(size); // sparse: address space, no memory
        }
        Libc.addSeals(fd, Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW);
        channel.write(new Frame.SharePool(0, poolId(), size, fd));
        Libc.close(fd);
    }

    static String poolId() {
        return String.format("%032x", IDS.incrementAndGet());
    }

    static FrameChannel hello(Path socket) throws IOException {
        FrameChannel channel = new FrameChannel(UnixSocket.connect(socket), new FrameCodec());
        channel.write(new Frame.Hello(0, FrameCodec.VERSION, Frame.SHARED_MEMORY | Frame.INLINE_TENSORS, "attacker"));
        assertTrue(channel.read() instanceof Frame.Welcome);
        return channel;
    }

    static String goodClient(Path socket) {
        try (WorkerClient client = WorkerClient.connect(socket, TensorAllocator.offHeap(), "good");
                Tensor x = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4);
                InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
            return java.util.Arrays.equals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS),
                    result.get("y").toFloatArray()) ? "ok" : "wrong";
        }
    }

    static void awaitFds(long pid, String name, long expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (fds(pid, name) != expected && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(expected, fds(pid, name), "the worker's descriptors of " + name);
    }

    static long fds(long pid, String contains) throws IOException {
        long n = 0;
        try (var list = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : list.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().contains(contains)) {
                        n++;
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        }
        return n;
    }

    static long vmSizeKb(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
