package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.PeerChild;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;

/**
 * {@code --allow-user} end to end: a process of another user connects, sends its memfd pool and gets its answer
 * through shared memory; a user not on the list is refused with the reason. (The build runs as root, as CI does, so
 * it can make the user and run a process as it.)
 */
class AllowUserTest {

    static final String USER = "qms-peer";

    @Test
    void anAllowedUserIsServedThroughSharedMemoryAndAnotherIsRefused() throws Exception {
        boolean made = run("id", "-u", USER) != 0 && run("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                USER) == 0;
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Files.setPosixFilePermissions(shm.root, PosixFilePermissions.fromString("rwxr-xr-x"));
            String classpath = readableClasspath(shm.root.resolve("cp"));
            Path socket = shm.root.resolve("worker.sock");
            ModelRegistry registry = ModelRegistry.builder().build();
            registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20));
                    WorkerServer server = WorkerServer.start(new WorkerSettings(socket, Set.of(USER), 1, 16,
                            Duration.ofSeconds(30), "multi-user"), registry, pool)) {
                assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)),
                        "other users can reach the socket; their credentials decide");
                assertEquals(List.of("pool", "ok"),
                        said(PeerChild.commandAs(id("-u", USER), id("-g", USER), classpath, "client", socket.toString(),
                                Long.toString(1 << 20), "exit")).stream().map(line -> line.split(" ")[0]).toList(),
                        "the other user's request went through its memfd pool and back");
                assertEquals(List.of("refused: User 'nobody' may not use worker 'multi-user'; allowed users: [" + USER
                        + "]"), said(
                                PeerChild.commandAs(id("-u", "nobody"), id("-g", "nobody"), classpath, "client",
                                        socket.toString(),
                                        Long.toString(1 << 20), "exit")));
            } finally {
                registry.close();
            }
        } finally {
            if (made) {
                run("userdel", USER);
            }
        }
    }

    /** The test classes and the project's classes, copied where any user can read them. */
    private static String readableClasspath(Path directory) throws IOException {
        StringBuilder classpath = new StringBuilder();
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path source = Path.of(entry);
            if (!Files.isDirectory(source)) {
                continue; // jars: the client needs none (it loads no ONNX Runtime and no test framework)
            }
            Path target = directory.resolve(Integer.toString(classpath.length()));
            try (Stream<Path> tree = Files.walk(source)) {
                for (Path path : tree.sorted(Comparator.naturalOrder()).toList()) {
                    Path copy = target.resolve(source.relativize(path).toString());
                    if (Files.isDirectory(path)) {
                        Files.createDirectories(copy);
                    } else {
                        Files.copy(path, copy);
                    }
                }
            }
            classpath.append(classpath.isEmpty() ? "" : java.io.File.pathSeparator).append(target);
        }
        try (Stream<Path> tree = Files.walk(directory)) {
            for (Path path : tree.toList()) {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(Files.isDirectory(path) ? "rwxr-xr-x"
                        : "rw-r--r--"));
            }
        }
        return classpath.toString();
    }

    private static List<String> said(ProcessBuilder command) throws Exception {
        Process child = command.start();
        String output = new String(child.getInputStream().readAllBytes()).trim();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, child.exitValue(), output);
        return output.lines().toList();
    }

    /** A user's uid ({@code -u}) or primary gid ({@code -g}). */
    private static long id(String which, String user) throws Exception {
        Process process = new ProcessBuilder("id", which, user).start();
        String said = new String(process.getInputStream().readAllBytes()).trim();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        return Long.parseLong(said);
    }

    private static int run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getInputStream().readAllBytes();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        return process.exitValue();
    }
}
