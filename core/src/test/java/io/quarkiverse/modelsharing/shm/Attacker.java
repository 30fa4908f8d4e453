package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.protocol.FrameChannel;
import io.quarkiverse.modelsharing.protocol.FrameCodec;
import io.quarkiverse.modelsharing.protocol.UnixSocket;
import io.quarkiverse.modelsharing.protocol.WireTensor;
import io.quarkiverse.modelsharing.tensor.DType;

/**
 * A client that attacks a worker every way the protocol allows, one attack after another, and prints one line per
 * attack with what it saw. It runs in a JVM of its own ({@code PeerChild attack <socket> <attacks>}); {@code attacks}
 * is a comma-separated list of: garbage, mutated, shapes, duplicates, huge, slowloris, connections, nonreader.
 */
final class Attacker {

    private static final Random RANDOM = new Random(42);

    private Attacker() {
    }

    static void attack(Path socket, String attacks) throws Exception {
        for (String attack : attacks.split(",")) {
            long started = System.nanoTime();
            String outcome = switch (attack) {
                case "garbage" -> garbage(socket);
                case "mutated" -> mutated(socket);
                case "shapes" -> shapes(socket);
                case "duplicates" -> duplicates(socket);
                case "huge" -> huge(socket);
                case "slowloris" -> slowloris(socket);
                case "connections" -> connections(socket);
                case "nonreader" -> nonReader(socket);
                case "padding" -> padding(socket);
                default -> throw new IllegalArgumentException(attack);
            };
            System.out.println(attack + ": " + outcome);
            System.err.println("attack " + attack + " took " + (System.nanoTime() - started) / 1_000_000 + " ms");
            System.out.flush();
        }
    }

    /** 200 connections that say hello, then send random bytes. */
    private static String garbage(Path socket) throws Exception {
        int closedByWorker = 0;
        for (int i = 0; i < 200; i++) {
            try (UnixSocket raw = hello(socket)) {
                byte[] junk = new byte[1 + RANDOM.nextInt(4096)];
                RANDOM.nextBytes(junk);
                send(raw, junk);
                closedByWorker += drainsToEnd(raw) ? 1 : 0;
            }
        }
        return closedByWorker + " of 200 closed by the worker";
    }

    /** 100 valid frames with random bytes changed, each on a connection of its own. */
    private static String mutated(Path socket) throws Exception {
        FrameCodec codec = new FrameCodec();
        List<Frame> samples = List.of(
                new Frame.Infer(1, "affine", 1000, List.of(new WireTensor.Inline("x", DType.F32, new long[] { 1, 4 },
                        new byte[16]))),
                new Frame.Load(2, "affine"), new Frame.Status(3), new Frame.Release(4), new Frame.Cancel(5),
                new Frame.Infer(6, "affine", 1000, List.of(new WireTensor.Shared("x", new TensorDescriptor(
                        "0123456789abcdef0123456789abcdef", 1, 64, 0, 16, DType.F32, new long[] { 1, 4 }, true)))));
        int ended = 0;
        int answered = 0;
        for (int i = 0; i < 100; i++) {
            ByteBuffer frame = codec.encode(samples.get(i % samples.size()));
            byte[] bytes = new byte[frame.remaining()];
            frame.get(bytes);
            for (int flips = 1 + RANDOM.nextInt(4); flips > 0; flips--) {
                bytes[RANDOM.nextInt(bytes.length)] = (byte) RANDOM.nextInt(256);
            }
            try (UnixSocket raw = hello(socket)) {
                send(raw, bytes);
                int said = firstAnswer(raw);
                ended += said < 0 ? 1 : 0;
                answered += said > 0 ? 1 : 0;
            }
        }
        return "100 mutated frames: " + ended + " connections ended by the worker, " + answered + " answered, the rest"
                + " waited on as incomplete";
    }

    /** Inline requests whose shapes the model cannot take, or that batch badly. */
    private static String shapes(Path socket) throws Exception {
        int errors = 0;
        try (FrameChannel channel = channel(socket)) {
            long[][] shapes = { { 0, 4 }, { 3, 4 }, { 1, 3 }, { 1, 4, 1 }, { 4 }, { 2, 4 } };
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < shapes.length; i++) {
                    long elements = 1;
                    for (long dim : shapes[i]) {
                        elements *= dim;
                    }
                    channel.write(new Frame.Infer(100 + round * 10 + i, "affine", 5000, List.of(
                            new WireTensor.Inline("x", DType.F32, shapes[i], new byte[(int) elements * 4]))));
                }
            }
            for (int i = 0; i < 20 * shapes.length; i++) {
                Frame answer = channel.read();
                errors += answer instanceof Frame.Error ? 1 : 0;
                if (answer instanceof Frame.Result result) {
                    channel.write(new Frame.Release(result.requestId()));
                }
            }
        }
        return errors + " of 120 refused";
    }

    /** A request id used twice while in flight, and a tensor name sent twice. */
    private static String duplicates(Path socket) throws Exception {
        List<String> said = new ArrayList<>();
        try (FrameChannel channel = channel(socket)) {
            WireTensor x = new WireTensor.Inline("x", DType.F32, new long[] { 1, 4 }, new byte[16]);
            channel.write(new Frame.Infer(7, "affine", 5000, List.of(x)));
            Frame first = channel.read(); // its result stays unreleased
            channel.write(new Frame.Infer(7, "affine", 5000, List.of(x)));
            said.add(describe(channel.read()));
            channel.write(new Frame.Infer(8, "affine", 5000, List.of(x, x)));
            said.add(describe(channel.read()));
            channel.write(new Frame.Release(first.requestId()));
        }
        return String.join(" | ", said);
    }

    /** Loads that give a model padding text that is not one, and a padding the worker was not started with. */
    private static String padding(Path socket) throws Exception {
        List<String> said = new ArrayList<>();
        try (FrameChannel channel = channel(socket)) {
            channel.write(new Frame.Load(20, "affine", "x=oops;dimension=1;outputs=;bucket=0"));
            said.add(describe(channel.read()));
            channel.write(new Frame.Load(21, "affine", "x=0;dimension=1;outputs=;bucket=0"));
            said.add(describe(channel.read()));
            channel.write(new Frame.Load(22, "affine"));
            said.add(describe(channel.read()));
        }
        return String.join(" | ", said);
    }

    /** 60 connections that announce a 128 MiB frame, send 1 KiB of it, and stall. */
    private static String huge(Path socket) throws Exception {
        List<UnixSocket> held = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            UnixSocket raw = hello(socket);
            ByteBuffer header = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + 1024).order(ByteOrder.LITTLE_ENDIAN);
            header.putInt(FrameCodec.MAGIC).put((byte) FrameCodec.VERSION).put((byte) 5).putShort((short) 0).putLong(1)
                    .putInt(128 << 20);
            send(raw, header.array());
            held.add(raw);
        }
        int cut = 0;
        for (UnixSocket raw : held) {
            cut += drainsToEnd(raw) ? 1 : 0; // the frame timeout ends each
            raw.close();
        }
        return cut + " of 60 stalled 128 MiB frames cut off";
    }

    /** A connection that sends its hello one byte at a time, slower than the worker waits. */
    private static String slowloris(Path socket) throws Exception {
        try (UnixSocket raw = UnixSocket.connect(socket)) {
            ByteBuffer hello = new FrameCodec().encode(new Frame.Hello(0, FrameCodec.VERSION, 0, "slow"));
            for (int i = 0; i < hello.remaining(); i++) {
                try {
                    send(raw, new byte[] { hello.get(i) });
                } catch (IOException e) {
                    return "cut off after " + i + " bytes";
                }
                if (!raw.isOpen()) {
                    break;
                }
                Thread.sleep(300); // each byte in time, the whole hello not: the worker wants it whole within 1 s
            }
            return drainsToEnd(raw) ? "cut off" : "still connected";
        }
    }

    /** 500 connections at once that say nothing. */
    private static String connections(Path socket) throws Exception {
        List<UnixSocket> held = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            held.add(UnixSocket.connect(socket));
        }
        int refused = 0;
        for (UnixSocket raw : held) {
            refused += drainsToEnd(raw) ? 1 : 0;
            raw.close();
        }
        return refused + " of 500 ended by the worker (refused, or past the hello timeout)";
    }

    /** Sends requests with 800 KiB answers and never reads them. */
    private static String nonReader(Path socket) throws Exception {
        try (FrameChannel channel = channel(socket)) {
            int rows = 100_000;
            WireTensor x = new WireTensor.Inline("x", DType.F32, new long[] { rows, 4 }, new byte[rows * 16]);
            int sent = 0;
            try {
                for (int i = 0; i < 40; i++) {
                    channel.write(new Frame.Infer(1000 + i, "affine", 30_000, List.of(x)));
                    sent++;
                }
            } catch (IOException e) {
                return "disconnected after " + sent + " requests: " + e.getMessage();
            }
            long start = System.nanoTime();
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30)) {
                Thread.sleep(200); // pacing the probe; the worker's write deadline is what is tested
                if (peerClosed(channel.socket())) {
                    return "disconnected by the worker while not reading, " + sent + " requests sent";
                }
            }
            return "still connected after " + sent + " requests";
        }
    }

    /** Whether the peer closed: tries a write, which fails once it has. */
    private static boolean peerClosed(UnixSocket raw) {
        try {
            send(raw, new FrameCodec().encode(new Frame.Heartbeat(0)).array());
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private static UnixSocket hello(Path socket) throws IOException {
        FrameChannel channel = channel(socket);
        return channel.socket();
    }

    private static FrameChannel channel(Path socket) throws IOException {
        FrameChannel channel = new FrameChannel(UnixSocket.connect(socket), new FrameCodec());
        channel.write(new Frame.Hello(0, FrameCodec.VERSION, Frame.INLINE_TENSORS, "attacker"));
        Frame welcome = channel.read();
        if (!(welcome instanceof Frame.Welcome)) {
            throw new IOException("no welcome: " + welcome);
        }
        return channel;
    }

    private static void send(UnixSocket raw, byte[] bytes) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(bytes.length);
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, out, 0, bytes.length);
            raw.write(out, bytes.length, -1);
        }
    }

    /** What the worker does first: -1 it ends the connection, 1 it answers, 0 nothing within 2 s. */
    private static int firstAnswer(UnixSocket raw) {
        try (Arena arena = Arena.ofConfined()) {
            return raw.read(arena.allocate(65536), 0, 65536, 1500) < 0 ? -1 : 1;
        } catch (java.net.SocketTimeoutException e) {
            return 0;
        } catch (IOException e) {
            return -1;
        }
    }

    /** Reads until the worker ends the connection (true) or 30 s pass (false). */
    private static boolean drainsToEnd(UnixSocket raw) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(65536);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                try {
                    if (raw.read(buffer, 0, 65536, 1000) < 0) {
                        return true;
                    }
                } catch (java.net.SocketTimeoutException e) {
                    // nothing yet: keep waiting
                }
            }
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    private static String describe(Frame frame) {
        return frame instanceof Frame.Error error ? error.code() + " " + error.message() : frame.getClass().getSimpleName();
    }
}
