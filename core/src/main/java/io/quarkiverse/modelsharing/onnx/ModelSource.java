package io.quarkiverse.modelsharing.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import io.quarkiverse.modelsharing.Digests;

/**
 * Where a model's bytes come from: a file, a classpath resource, or memory.
 * <p>
 * {@link #parse(String, ClassLoader)} reads the configuration's form: {@code classpath:models/a.onnx} for a
 * resource, {@code jar:file:/libs/models.jar!/models/a.onnx} for an entry of a jar file (how an application names a
 * resource of one of its dependency jars to a worker daemon, which has its own class path), anything else for a file
 * path.
 */
public sealed interface ModelSource {

    String CLASSPATH_PREFIX = "classpath:";
    String JAR_PREFIX = "jar:";

    /** The source as a person reads it, e.g. {@code file /models/a.onnx}. */
    String describe();

    boolean exists();

    /** The model's bytes, read onto the heap. */
    byte[] readAllBytes() throws IOException;

    /** The file the model can be read from directly, if there is one (a file, or a resource in a directory). */
    Optional<Path> localFile();

    /** Size in bytes, or -1 if unknown. */
    long byteSize();

    /**
     * 16 hex digits that change when the source or its content does: a digest of what it is, its size and, for a
     * file or a jar, its modification time. Two applications naming one model file share it; a model exported again
     * gets another fingerprint, so a daemon that registers models by it loads the new one.
     */
    default String fingerprint() {
        StringBuilder identity = new StringBuilder(describe()).append('|').append(byteSize());
        Optional<Path> file = switch (this) {
            case JarEntrySource entry -> Optional.of(entry.jar());
            default -> localFile();
        };
        file.ifPresent(path -> {
            try {
                identity.append('|').append(Files.getLastModifiedTime(path).toMillis());
            } catch (IOException e) {
                identity.append("|missing");
            }
        });
        return Digests.sha256Hex(identity.toString(), 8);
    }

    static ModelSource parse(String location, ClassLoader classLoader) {
        if (location.startsWith(CLASSPATH_PREFIX)) {
            return classpath(location.substring(CLASSPATH_PREFIX.length()), classLoader);
        }
        if (location.startsWith(JAR_PREFIX)) {
            return jarEntry(location);
        }
        return file(Path.of(location));
    }

    static ModelSource file(Path path) {
        return new FileSource(path.toAbsolutePath().normalize());
    }

    static ModelSource classpath(String resource, ClassLoader classLoader) {
        return new ClasspathSource(resource.startsWith("/") ? resource.substring(1) : resource, classLoader);
    }

    /**
     * An entry of a jar file, as {@code jar:file:/libs/models.jar!/models/a.onnx} names it.
     *
     * @throws IllegalArgumentException if {@code location} is not of that form
     */
    static ModelSource jarEntry(String location) {
        int separator = location.indexOf("!/");
        if (!location.startsWith(JAR_PREFIX) || separator < 0 || separator + 2 == location.length()) {
            throw new IllegalArgumentException("A jar entry is named jar:file:/path/to/file.jar!/path/in/jar, not " + location);
        }
        try {
            java.net.URI uri = new java.net.URI(location.substring(JAR_PREFIX.length(), separator));
            if (!"file".equals(uri.getScheme())) {
                throw new IllegalArgumentException("the jar must be a file: URI");
            }
            Path jar = Path.of(uri);
            return new JarEntrySource(jar.toAbsolutePath().normalize(), location.substring(separator + 2));
        } catch (URISyntaxException | RuntimeException e) {
            throw new IllegalArgumentException("A jar entry is named jar:file:/path/to/file.jar!/path/in/jar, not "
                    + location + ": " + e.getMessage(), e);
        }
    }

    /** The jar-entry location of {@code entry} in {@code jar}, as {@link #parse} reads it. */
    static String jarLocation(Path jar, String entry) {
        return JAR_PREFIX + jar.toAbsolutePath().normalize().toUri() + "!/" + entry;
    }

    static ModelSource bytes(String label, byte[] model) {
        return new BytesSource(label, model.clone());
    }

    record FileSource(Path path) implements ModelSource {
        @Override
        public String describe() {
            return "file " + path;
        }

        @Override
        public boolean exists() {
            return Files.isRegularFile(path);
        }

        @Override
        public byte[] readAllBytes() throws IOException {
            return Files.readAllBytes(path);
        }

        @Override
        public Optional<Path> localFile() {
            return Optional.of(path);
        }

        @Override
        public long byteSize() {
            try {
                return Files.size(path);
            } catch (IOException e) {
                return -1;
            }
        }
    }

    record ClasspathSource(String resource, ClassLoader classLoader) implements ModelSource {
        @Override
        public String describe() {
            return "classpath resource " + resource;
        }

        @Override
        public boolean exists() {
            return classLoader.getResource(resource) != null;
        }

        @Override
        public byte[] readAllBytes() throws IOException {
            try (InputStream in = classLoader.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException("classpath resource " + resource + " is not on the classpath");
                }
                return in.readAllBytes();
            }
        }

        @Override
        public Optional<Path> localFile() {
            URL url = classLoader.getResource(resource);
            if (url == null || !"file".equals(url.getProtocol())) {
                return Optional.empty();
            }
            try {
                return Optional.of(Path.of(url.toURI()));
            } catch (URISyntaxException e) {
                return Optional.empty();
            }
        }

        @Override
        public long byteSize() {
            Optional<Path> file = localFile();
            if (file.isPresent()) {
                return new FileSource(file.get()).byteSize();
            }
            URL url = classLoader.getResource(resource);
            if (url == null) {
                return -1;
            }
            try {
                return url.openConnection().getContentLengthLong();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the size of " + describe(), e);
            }
        }
    }

    record JarEntrySource(Path jar, String entry) implements ModelSource {
        @Override
        public String describe() {
            return "entry " + entry + " of jar " + jar;
        }

        @Override
        public boolean exists() {
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                return zip.getEntry(entry) != null;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        /**
         * The entry's bytes, never more than its jar declares (which the registry's memory admission counted): an
         * entry that inflates past that, or has no declared size, is refused rather than read without bound.
         */
        @Override
        public byte[] readAllBytes() throws IOException {
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                ZipEntry found = zip.getEntry(entry);
                if (found == null) {
                    throw new IOException("jar " + jar + " has no entry " + entry);
                }
                long size = found.getSize();
                if (size < 0 || size > Integer.MAX_VALUE - 8) {
                    throw new IOException("entry " + entry + " of jar " + jar + " declares "
                            + (size < 0 ? "no size" : size + " bytes, more than one array holds")
                            + "; configure the model as a file instead");
                }
                try (InputStream in = zip.getInputStream(found)) {
                    byte[] bytes = in.readNBytes((int) size);
                    if (bytes.length != size || in.read() >= 0) {
                        throw new IOException("entry " + entry + " of jar " + jar + " does not have the " + size
                                + " bytes its jar declares");
                    }
                    return bytes;
                }
            }
        }

        @Override
        public Optional<Path> localFile() {
            return Optional.empty();
        }

        @Override
        public long byteSize() {
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                ZipEntry found = zip.getEntry(entry);
                return found == null ? -1 : found.getSize();
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }
    }

    record BytesSource(String label, byte[] model) implements ModelSource {
        @Override
        public String describe() {
            return "in-memory model " + label;
        }

        @Override
        public boolean exists() {
            return true;
        }

        @Override
        public byte[] readAllBytes() {
            return model.clone();
        }

        @Override
        public Optional<Path> localFile() {
            return Optional.empty();
        }

        @Override
        public long byteSize() {
            return model.length;
        }
    }
}
