package io.quarkiverse.modelsharing.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
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
    void everyCopyOfOneJarFindsTheSameDirectoryAndAnotherBuildGetsItsOwn() throws Exception {
        Path jar = fakeRuntimeJar("a", 1000);
        Path copy = Files.copy(jar, temp.resolve("copy-of-a.jar"));
        Files.setLastModifiedTime(copy, FileTime.fromMillis(1_000_000));
        Path first = OnnxRuntimeLibrary.unpack(temp, loaderOf(jar)).orElseThrow();
        assertEquals(first, OnnxRuntimeLibrary.unpack(temp, loaderOf(copy)).orElseThrow(),
                "the same libraries in another file with another date");
        assertNotEquals(first, OnnxRuntimeLibrary.unpack(temp, loaderOf(fakeRuntimeJar("b", 1000))).orElseThrow(),
                "libraries of the same size with other contents");
    }

    @Test
    void aTruncatedLibraryIsWrittenAgainAndNothingHalfWrittenIsLeft() throws Exception {
        ClassLoader runtime = loaderOf(fakeRuntimeJar("b", 2000));
        Path directory = OnnxRuntimeLibrary.unpack(temp, runtime).orElseThrow();
        Path library = directory.resolve(System.mapLibraryName("onnxruntime"));
        Files.write(library, new byte[10]);
        assertEquals(Optional.of(directory), OnnxRuntimeLibrary.unpack(temp, runtime));
        assertEquals(2000, Files.size(library));
        assertEquals('b', Files.readAllBytes(library)[0]);
        assertEquals(List.of(), parts(directory));
    }

    @Test
    void aLinkInPlaceOfTheUsersDirectoryIsRefused() throws Exception {
        Path elsewhere = Files.createDirectory(temp.resolve("elsewhere"));
        Path link = Files.createSymbolicLink(PrivateDirectory.ofUser(temp), elsewhere);
        IOException refused = assertThrows(IOException.class,
                () -> OnnxRuntimeLibrary.unpack(temp, loaderOf(fakeRuntimeJar("a", 100))));
        assertEquals(link + " exists and is not a directory; remove it", refused.getMessage());
    }

    @Test
    void anApplicationThatChoseOnnxRuntimesLibrariesKeepsItsChoice() {
        Properties properties = new Properties();
        properties.setProperty("java.io.tmpdir", "/tmp");
        assertFalse(OnnxRuntimeLibrary.userChoseLibraries(properties));
        properties.setProperty("onnxruntime.native.onnxruntime.path", "/opt/ort/libonnxruntime.so");
        assertTrue(OnnxRuntimeLibrary.userChoseLibraries(properties));
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
                () -> OnnxRuntimeLibrary.unpack(temp, loaderOf(fakeRuntimeJar("a", 100))));
        assertEquals(user + " is writable by other users (rwxrwxrwx), so its contents cannot be trusted; remove it",
                refused.getMessage());
    }

    @Test
    void processesUnpackingAtOnceAllGetTheWholeLibrary() throws Exception {
        ClassLoader runtime = loaderOf(fakeRuntimeJar("c", 4 << 20));
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
            assertEquals(List.of(), parts(directory));
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aProcessUnpackingWaitsForAnotherThatIsUnpacking() throws Exception {
        Path jar = fakeRuntimeJar("d", 1000);
        Path directory = OnnxRuntimeLibrary.unpack(temp, loaderOf(jar)).orElseThrow();
        Process other;
        try (FileChannel lockFile = FileChannel.open(directory.resolve(".lock"), StandardOpenOption.WRITE);
                FileLock held = lockFile.lock()) {
            other = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "-cp", System.getProperty("java.class.path"), OnnxRuntimeLibraryTest.class.getName(), temp.toString(),
                    jar.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            assertFalse(other.waitFor(2, TimeUnit.SECONDS), "the other process waits for its turn");
        }
        try {
            assertTrue(other.waitFor(20, TimeUnit.SECONDS), "and takes it once this one is done");
            assertEquals(0, other.exitValue());
            assertEquals(directory.toString(), new String(other.getInputStream().readAllBytes()).trim());
        } finally {
            other.destroyForcibly();
            other.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The other process of {@link #aProcessUnpackingWaitsForAnotherThatIsUnpacking}: unpacks a jar, says where. */
    public static void main(String[] args) throws Exception {
        System.out.println(OnnxRuntimeLibrary.unpack(Path.of(args[0]), loaderOf(Path.of(args[1]))).orElseThrow());
    }

    /** A jar holding an ONNX Runtime library of {@code size} bytes of {@code fill} for this platform. */
    private Path fakeRuntimeJar(String fill, int size) throws IOException {
        Path jar = Files.createTempFile(temp, "runtime-" + fill, ".jar");
        byte[] bytes = new byte[size];
        Arrays.fill(bytes, (byte) fill.charAt(0));
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new JarEntry("ai/onnxruntime/native/" + OnnxRuntimeLibrary.platform() + "/"
                    + System.mapLibraryName("onnxruntime")));
            out.write(bytes);
            out.closeEntry();
        }
        return jar;
    }

    private static ClassLoader loaderOf(Path jar) throws IOException {
        return new URLClassLoader(new URL[] { jar.toUri().toURL() }, null);
    }

    /** Files being written that were left behind. */
    private static List<String> parts(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).filter(name -> name.endsWith(".part")).toList();
        }
    }
}
