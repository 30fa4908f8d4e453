package io.quarkiverse.modelsharing.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.JarURLConnection;
import java.net.URL;
import java.net.URLConnection;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;

import io.quarkiverse.modelsharing.shm.PrivateDirectory;

/**
 * ONNX Runtime's native libraries, unpacked once per user and library build into
 * {@code <java.io.tmpdir>/quarkus-model-sharing-<uid>/onnxruntime-<build>/}, and loaded from there by every process
 * of the user (through ONNX Runtime's {@code onnxruntime.native.path}). Left to itself, ONNX Runtime unpacks its
 * 28 MB library into a fresh temporary directory in every process: each process then holds its own copy of the
 * library's pages (about 18 MiB resident), and the directory stays behind after the process ends. Loaded from one
 * place, the pages are shared between the processes that map them and nothing is left behind.
 */
public final class OnnxRuntimeLibrary {

    /** ONNX Runtime's own switch: the directory to load all its native libraries from. */
    public static final String NATIVE_PATH_PROPERTY = "onnxruntime.native.path";

    private static final System.Logger LOG = System.getLogger(OnnxRuntimeLibrary.class.getName());
    /** Every native library ONNX Runtime's Java API may load, by the names it loads them with. */
    private static final List<String> LIBRARIES = List.of("onnxruntime", "onnxruntime4j_jni", "onnxruntime_providers_shared",
            "onnxruntime_providers_cuda", "onnxruntime_providers_rocm", "onnxruntime_providers_dnnl",
            "onnxruntime_providers_openvino", "onnxruntime_providers_tensorrt", "onnxruntime_providers_qnn", "webgpu_dawn",
            "dxil", "dxcompiler");
    private static boolean prepared; // guarded by the class
    private static Optional<Path> shared = Optional.empty(); // guarded by the class

    private OnnxRuntimeLibrary() {
    }

    /**
     * Points ONNX Runtime at the user's shared copy of its libraries, unpacking them first if no process has; call it
     * before ONNX Runtime's first use in the process (later calls change nothing). Only for a process that loads ONNX
     * Runtime through one class loader: the JVM refuses to load one library file into two class loaders, as Quarkus'
     * test and dev-mode class loaders would. Nothing changes if the application chose ONNX Runtime's libraries itself
     * (any {@code onnxruntime.native.*} property) or if ONNX Runtime's library is already loaded. If the copy cannot
     * be made, the reason is logged and ONNX Runtime unpacks its own copy as it always does.
     *
     * @return the directory ONNX Runtime will load its libraries from, if it is the shared copy
     */
    public static synchronized Optional<Path> useSharedCopy() {
        if (!prepared) {
            prepared = true;
            if (!userChoseLibraries(System.getProperties()) && !alreadyLoaded()) {
                Path base = Path.of(System.getProperty("java.io.tmpdir"));
                try {
                    shared = unpack(base, OnnxRuntimeLibrary.class.getClassLoader());
                    shared.ifPresent(directory -> System.setProperty(NATIVE_PATH_PROPERTY, directory.toString()));
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "ONNX Runtime's native libraries cannot be shared through " + base
                            + "; this process unpacks its own copy", e);
                }
            }
        }
        return shared;
    }

    /** Whether {@code properties} set any of ONNX Runtime's {@code onnxruntime.native.*} switches. */
    static boolean userChoseLibraries(Properties properties) {
        return properties.stringPropertyNames().stream().anyMatch(name -> name.startsWith("onnxruntime.native."));
    }

    /** Whether this process has ONNX Runtime's library mapped already, from wherever. */
    private static boolean alreadyLoaded() {
        String library = "/" + System.mapLibraryName("onnxruntime");
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.anyMatch(line -> line.endsWith(library) || line.endsWith(library + " (deleted)"));
        } catch (IOException | RuntimeException e) {
            return false; // no /proc: nothing to tell, and setting the property early is then harmless
        }
    }

    /**
     * Unpacks this platform's ONNX Runtime libraries found by {@code loader} into
     * {@code <base>/quarkus-model-sharing-<uid>/onnxruntime-<build>/}, where {@code <build>} is derived from the
     * libraries' names, sizes and checksums, so that any copy of one ONNX Runtime jar finds the same directory and
     * another build gets its own. Processes unpacking at once take turns (a file lock); each library is written aside,
     * flushed, then renamed into place, so a process never loads a half-written one, and one already there at its size
     * is kept.
     *
     * @return the directory, or empty if {@code loader} has no ONNX Runtime library for this platform, or none whose
     *         size it can tell (ONNX Runtime then finds its library itself, as it would anyway)
     * @throws IOException if the directory cannot be made private to this user or a library cannot be written
     */
    static Optional<Path> unpack(Path base, ClassLoader loader) throws IOException {
        String folder = "ai/onnxruntime/native/" + platform() + "/";
        Map<String, Library> libraries = new LinkedHashMap<>();
        CRC32 build = new CRC32();
        for (String name : LIBRARIES) {
            String file = System.mapLibraryName(name);
            URL resource = loader.getResource(folder + file);
            if (resource != null) {
                Library library = Library.of(resource);
                if (library.size() < 0) {
                    return Optional.empty();
                }
                libraries.put(file, library);
                build.update((file + ':' + library.size() + ':' + library.checksum() + ';').getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!libraries.containsKey(System.mapLibraryName("onnxruntime"))) {
            return Optional.empty();
        }
        Path user = PrivateDirectory.prepare(PrivateDirectory.ofUser(base));
        Path directory = PrivateDirectory.prepare(user.resolve("onnxruntime-" + Long.toHexString(build.getValue())));
        // a file lock orders processes; threads of one process, which would share it, take turns on the class first
        synchronized (OnnxRuntimeLibrary.class) {
            try (FileChannel lockFile = FileChannel.open(directory.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS); FileLock turn = lockFile.lock()) {
                for (Map.Entry<String, Library> library : libraries.entrySet()) {
                    Path target = directory.resolve(library.getKey());
                    if (!Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)
                            || Files.size(target) != library.getValue().size()) {
                        write(library.getValue(), directory, target);
                    }
                }
            }
        }
        return Optional.of(directory);
    }

    private static void write(Library library, Path directory, Path target) throws IOException {
        Path aside = Files.createTempFile(directory, target.getFileName().toString(), ".part");
        try {
            try (InputStream in = library.resource().openStream()) {
                Files.copy(in, aside, StandardCopyOption.REPLACE_EXISTING);
            }
            if (Files.size(aside) != library.size()) {
                throw new IOException(target.getFileName() + " unpacked to " + Files.size(aside) + " bytes, not "
                        + library.size());
            }
            try (FileChannel written = FileChannel.open(aside, StandardOpenOption.WRITE)) {
                written.force(true); // on disk before its name says it is whole
            }
            try {
                Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(aside, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(aside);
        }
    }

    /** One library on the class path: where, its size, and a checksum known without reading it when it is in a jar. */
    private record Library(URL resource, long size, long checksum) {

        static Library of(URL resource) throws IOException {
            URLConnection connection = resource.openConnection();
            if (connection instanceof JarURLConnection jar) {
                ZipEntry entry = jar.getJarEntry();
                return new Library(resource, entry.getSize(), entry.getCrc());
            }
            // a directory on the class path: size and date of the file itself
            long size = connection.getContentLengthLong();
            long modified = connection.getLastModified();
            try (InputStream opened = connection.getInputStream()) {
                return new Library(resource, size, modified);
            }
        }
    }

    /** ONNX Runtime's name for this platform's folder of libraries, such as {@code linux-x64}. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : "linux";
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x64" : arch.startsWith("ppc64") ? "ppc64" : arch;
        return osName + "-" + archName;
    }
}
