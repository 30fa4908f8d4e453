package io.quarkiverse.modelsharing.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.quarkiverse.modelsharing.shm.PrivateDirectory;

class OnnxRuntimeLibraryTest {

    @TempDir
    Path temp;

    @Test
    void unpacksTheRealLibrariesOnceIntoAPrivateDirectoryOfTheUser() throws Exception {
        ClassLoader loader = OnnxRuntimeLibraryTest.class.getClassLoader();
        Path directory = OnnxRuntimeLibrary.unpack(temp, loader).orElseThrow();
        assertEquals(PrivateDirectory.ofUser(temp), directory.getParent());
        assertTrue(directory.getFileName().toString().startsWith("onnxruntime-"), directory.toString());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(directory)));
        for (String library : List.of("onnxruntime", "onnxruntime4j_jni")) {
            String file = System.mapLibraryName(library);
            try (InputStream resource = loader.getResourceAsStream("ai/onnxruntime/native/" + OnnxRuntimeLibrary.platform()
                    + "/" + file)) {
                assertArrayEquals(resource.readAllBytes(), Files.readAllBytes(directory.resolve(file)), file);
            }
        }
        Path library = directory.resolve(System.mapLibraryName("onnxruntime"));
        FileTime written = FileTime.fromMillis(1_000_000);
        Files.setLastModifiedTime(library, written);
        assertEquals(Optional.of(directory), OnnxRuntimeLibrary.unpack(temp, loader));
        assertEquals(written, Files.getLastModifiedTime(library), "a library already unpacked is not written again");
    }

    @Test
    void anotherBuildGetsADirectoryOfItsOwnAndATruncatedLibraryIsWrittenAgain() throws Exception {
        Path first = OnnxRuntimeLibrary.unpack(temp, fakeRuntime("a", 1000)).orElseThrow();
        ClassLoader b = fakeRuntime("b", 2000);
        Path second = OnnxRuntimeLibrary.unpack(temp, b).orElseThrow();
        assertNotEquals(first, second);
        Path library = second.resolve(System.mapLibraryName("onnxruntime"));
        assertEquals(2000, Files.size(library));
        Files.write(library, new byte[10]);
        assertEquals(Optional.of(second), OnnxRuntimeLibrary.unpack(temp, b));
        assertEquals(2000, Files.size(library));
        assertEquals('b', Files.readAllBytes(library)[0]);
        try (Stream<Path> files = Files.list(second)) {
            assertEquals(List.of(System.mapLibraryName("onnxruntime")), files.map(f -> f.getFileName().toString()).toList(),
                    "nothing half-written is left");
        }
    }

    @Test
    void withoutTheLibrariesOnTheClassPathOnnxRuntimeIsLeftToFindItsOwn() throws Exception {
        try (URLClassLoader empty = new URLClassLoader(new URL[0], null)) {
            assertEquals(Optional.empty(), OnnxRuntimeLibrary.unpack(temp, empty));
        }
        assertTrue(Files.notExists(PrivateDirectory.ofUser(temp)), "and nothing is created");
    }

    @Test
    void aDirectoryOthersCanWriteIntoIsRefused() throws Exception {
        Path user = Files.createDirectory(PrivateDirectory.ofUser(temp));
        Files.setPosixFilePermissions(user, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException refused = assertThrows(IOException.class,
                () -> OnnxRuntimeLibrary.unpack(temp, fakeRuntime("a", 100)));
        assertEquals(user + " is writable by other users (rwxrwxrwx), so its contents cannot be trusted; remove it",
                refused.getMessage());
    }

    @Test
    void processesUnpackingAtOnceAllGetTheWholeLibrary() throws Exception {
        ClassLoader runtime = fakeRuntime("c", 4 << 20);
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<Optional<Path>>> unpacked = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                unpacked.add(threads.submit(() -> OnnxRuntimeLibrary.unpack(temp, runtime)));
            }
            Path directory = unpacked.get(0).get().orElseThrow();
            for (Future<Optional<Path>> each : unpacked) {
                assertEquals(directory, each.get().orElseThrow());
            }
            assertEquals(4 << 20, Files.size(directory.resolve(System.mapLibraryName("onnxruntime"))));
            try (Stream<Path> files = Files.list(directory)) {
                assertEquals(1, files.count(), "one library, no parts left over");
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /** A class loader holding an ONNX Runtime library of {@code size} bytes of {@code fill} for this platform. */
    private ClassLoader fakeRuntime(String fill, int size) throws IOException {
        Path root = Files.createTempDirectory(temp, "runtime-" + fill);
        Path folder = Files.createDirectories(root.resolve("ai/onnxruntime/native/" + OnnxRuntimeLibrary.platform()));
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) fill.charAt(0));
        Files.write(folder.resolve(System.mapLibraryName("onnxruntime")), bytes);
        return new URLClassLoader(new URL[] { root.toUri().toURL() }, null);
    }
}
