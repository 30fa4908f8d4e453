package io.quarkiverse.modelsharing.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.net.URL;
import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32;

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
     * test and dev-mode class loaders would. An application that set {@value #NATIVE_PATH_PROPERTY} itself keeps its
     * setting. If the copy cannot be made, the reason is logged and ONNX Runtime unpacks its own copy as it always does.
     *
     * @return the directory ONNX Runtime loads its libraries from, if it is the shared copy
     */
    public static synchronized Optional<Path> useSharedCopy() {
        if (!prepared) {
            prepared = true;
            if (System.getProperty(NATIVE_PATH_PROPERTY) == null) {
                Path base = Path.of(System.getProperty("java.io.tmpdir"));
                try {
                    unpack(base, OnnxRuntimeLibrary.class.getClassLoader())
                            .ifPresent(directory -> System.setProperty(NATIVE_PATH_PROPERTY, directory.toString()));
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "ONNX Runtime's native libraries cannot be shared through " + base + " ("
                            + e.getMessage() + "); this process unpacks its own copy");
                }
                shared = Optional.ofNullable(System.getProperty(NATIVE_PATH_PROPERTY)).map(Path::of);
            }
        }
        return shared;
    }

    /**
     * Unpacks this platform's ONNX Runtime libraries found by {@code loader} into
     * {@code <base>/quarkus-model-sharing-<uid>/onnxruntime-<build>/}, where {@code <build>} names their sizes and
     * dates, so that another ONNX Runtime build gets a directory of its own. A library already there at its size is
     * kept; one being written is never seen half-written (each is written aside, then renamed into place).
     *
     * @return the directory, or empty if {@code loader} has no ONNX Runtime library for this platform (ONNX Runtime
     *         then looks for it on the library path, as it would anyway)
     * @throws IOException if the directory cannot be made private to this user or a library cannot be written
     */
    static Optional<Path> unpack(Path base, ClassLoader loader) throws IOException {
        String folder = "ai/onnxruntime/native/" + platform() + "/";
        Map<String, URLConnection> libraries = new LinkedHashMap<>();
        CRC32 build = new CRC32();
        for (String library : LIBRARIES) {
            String file = System.mapLibraryName(library);
            URL resource = loader.getResource(folder + file);
            if (resource != null) {
                URLConnection connection = resource.openConnection();
                libraries.put(file, connection);
                build.update((file + ':' + connection.getContentLengthLong() + ':' + connection.getLastModified() + ';')
                        .getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!libraries.containsKey(System.mapLibraryName("onnxruntime"))) {
            return Optional.empty();
        }
        Path user = PrivateDirectory.prepare(PrivateDirectory.ofUser(base));
        Path directory = PrivateDirectory.prepare(user.resolve("onnxruntime-" + Long.toHexString(build.getValue())));
        for (Map.Entry<String, URLConnection> library : libraries.entrySet()) {
            Path target = directory.resolve(library.getKey());
            long size = library.getValue().getContentLengthLong();
            if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.size(target) == size) {
                continue;
            }
            Path aside = Files.createTempFile(directory, library.getKey(), ".part");
            try {
                try (InputStream in = library.getValue().getInputStream()) {
                    Files.copy(in, aside, StandardCopyOption.REPLACE_EXISTING);
                }
                if (size >= 0 && Files.size(aside) != size) {
                    throw new IOException(library.getKey() + " unpacked to " + Files.size(aside) + " bytes, not " + size);
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
        return Optional.of(directory);
    }

    /** ONNX Runtime's name for this platform's folder of libraries, such as {@code linux-x64}. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : "linux";
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x64" : arch;
        return osName + "-" + archName;
    }
}
