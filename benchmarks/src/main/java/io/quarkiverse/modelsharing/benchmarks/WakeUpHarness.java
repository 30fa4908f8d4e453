package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.UUID;

/**
 * What this machine charges for waking a thread in another process: the round trip of one byte over a Unix domain
 * socket to an echoing JVM, back to back, and after the calling thread has worked for about as long as the 64 MiB
 * model runs (1.8 ms), so that the echoing thread's core has gone idle meanwhile (the caller, busy until it writes,
 * is woken while its core is still warm). A request through a worker contains such a round trip, whatever the
 * protocol: the request wakes the worker's reader after idling, the answer wakes the client. So this is a floor under
 * what a worker can add to a model's time on this machine, not the whole of it.
 */
final class WakeUpHarness {

    static final long WORK_NANOS = 1_800_000;
    static final int ROUND_TRIPS = 3000;

    /** p50 round trips, in microseconds. */
    record Figures(double backToBack, double afterWork) {
    }

    private WakeUpHarness() {
    }

    static Figures measure() throws Exception {
        Path socket = Path.of(System.getProperty("java.io.tmpdir"), "qms-wake-" + UUID.randomUUID() + ".sock");
        Process echo = ChildJvm.start(WakeUpHarness.class.getName(), socket.toString());
        try {
            if (echo.getInputStream().read() < 0) {
                throw new IllegalStateException("the echoing JVM ended before it listened");
            }
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                roundTrips(channel, 0); // warm-up
                return new Figures(roundTrips(channel, 0), roundTrips(channel, WORK_NANOS));
            }
        } finally {
            echo.destroy();
            echo.waitFor();
            Files.deleteIfExists(socket);
        }
    }

    /** The p50 of {@link #ROUND_TRIPS} round trips, each after {@code workNanos} of work in this thread. */
    private static double roundTrips(SocketChannel channel, long workNanos) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1);
        long[] nanos = new long[ROUND_TRIPS];
        for (int i = 0; i < nanos.length; i++) {
            long end = System.nanoTime() + workNanos;
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
            long start = System.nanoTime();
            channel.write(buffer.clear().put((byte) 1).flip());
            if (channel.read(buffer.clear()) < 0) {
                throw new IOException("the echoing JVM closed the connection");
            }
            nanos[i] = System.nanoTime() - start;
        }
        Arrays.sort(nanos);
        return nanos[nanos.length / 2] / 1000.0;
    }

    /** The echoing JVM: says it listens (one byte on standard output), then echoes one connection. */
    public static void main(String[] args) throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(args[0]));
            System.out.write('.');
            System.out.flush();
            try (SocketChannel channel = server.accept()) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(1);
                while (channel.read(buffer.clear()) >= 0) {
                    channel.write(buffer.flip());
                }
            }
        }
    }
}
