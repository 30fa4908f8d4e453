package io.quarkiverse.modelsharing.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * Where a server socket appears: never over a live one, in place of a dead one, and removed on close only if it is
 * still its own.
 */
class UnixServerSocketTest {

    @Test
    void ofEightThatBindOnePathAtOnceOneListensAndTheOthersAreTold() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path socket = shm.root.resolve("contested.sock");
            int contenders = 8;
            CountDownLatch start = new CountDownLatch(1);
            ExecutorService threads = Executors.newFixedThreadPool(contenders);
            List<Future<UnixServerSocket>> binds = new ArrayList<>();
            for (int i = 0; i < contenders; i++) {
                binds.add(threads.submit(() -> {
                    start.await();
                    return UnixServerSocket.bind(socket, 4);
                }));
            }
            start.countDown();
            List<UnixServerSocket> winners = new ArrayList<>();
            List<String> refusals = new ArrayList<>();
            for (Future<UnixServerSocket> bind : binds) {
                try {
                    winners.add(bind.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    assertInstanceOf(UnixServerSocket.SocketInUseException.class, e.getCause(), e.toString());
                    refusals.add(e.getCause().getMessage());
                }
            }
            threads.shutdown();
            assertEquals(1, winners.size(), "one listens: " + refusals);
            assertEquals(List.of(), refusals.stream().filter(m -> !m.equals("Another process listens on " + socket))
                    .toList());
            assertTrue(UnixServerSocket.answers(socket));
            winners.get(0).close();
            assertFalse(Files.exists(socket), "its file goes with it");
            try (Stream<Path> left = Files.list(shm.root)) {
                assertEquals(List.of(), left.toList(), "no temporary name is left");
            }
        }
    }

    @Test
    void aDeadSocketIsReplacedAndAReplacedOneIsNotRemovedByItsFormerOwner() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path socket = shm.root.resolve("stale.sock");
            try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                dead.bind(UnixDomainSocketAddress.of(socket)); // closed without removing its file, as a killed process
            }
            assertTrue(Files.exists(socket) && !UnixServerSocket.answers(socket));
            UnixServerSocket first = UnixServerSocket.bind(socket, 4);
            assertTrue(UnixServerSocket.answers(socket), "the dead file is replaced by a live socket");

            // Its owner stops answering without closing (stuck, or about to close): another takes the path ...
            Files.delete(socket);
            try (UnixServerSocket second = UnixServerSocket.bind(socket, 4)) {
                first.close(); // ... and the former owner's close leaves the new socket alone
                assertTrue(UnixServerSocket.answers(socket), "the new owner's socket stays");
            }
            assertFalse(Files.exists(socket));
        }
    }

    @Test
    void somethingThatIsNotASocketIsNeitherReplacedNorRemoved() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path notASocket = Files.writeString(shm.root.resolve("config.sock"), "a file a typo pointed at");
            java.io.IOException refused = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> UnixServerSocket.bind(notASocket, 4));
            assertEquals("Cannot listen on " + notASocket + ": something that is not a socket is there; remove it, or"
                    + " choose another path", refused.getMessage());
            assertEquals("a file a typo pointed at", Files.readString(notASocket));
            try (Stream<Path> left = Files.list(shm.root)) {
                assertEquals(List.of(notASocket), left.toList(), "and no temporary name is left");
            }
        }
    }
}
