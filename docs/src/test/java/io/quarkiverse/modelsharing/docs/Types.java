package io.quarkiverse.modelsharing.docs;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Member;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The types a page may name: every class on the test class path and in the JDK, by simple name, and the project's
 * classes that this class path lacks (tests, benchmarks) by their source files.
 */
final class Types {

    private final Map<String, Set<String>> bySimpleName = new HashMap<>();

    /** A lookup over {@code binaryNames} alone, for tests of the checker. */
    static Types of(String... binaryNames) {
        Types types = new Types();
        for (String name : binaryNames) {
            types.add(name);
        }
        return types;
    }

    /** Every class of the test class path, the JDK's {@code java.*} modules and the repository's sources. */
    static Types fromClassPathAndSources(Path repository) {
        Types types = new Types();
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        for (String entry : classPath.split(File.pathSeparator)) {
            types.addClassPathEntry(Path.of(entry));
        }
        types.addJdk();
        try (Stream<Path> files = Files.walk(repository)) {
            files.filter(f -> f.toString().contains("/src/") && f.toString().endsWith(".java"))
                    .filter(f -> !f.toString().contains("/target/"))
                    .forEach(f -> types.add("test." + f.getFileName().toString().replace(".java", "")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return types;
    }

    boolean exists(String simpleName) {
        return bySimpleName.containsKey(simpleName);
    }

    boolean existsQualified(String name) {
        String simple = name.substring(name.lastIndexOf('.') + 1);
        return bySimpleName.getOrDefault(simple, Set.of()).stream().anyMatch(n -> n.replace('$', '.').equals(name));
    }

    /** Whether a type of that simple name has a method, field, constant or nested type called {@code member}. */
    boolean hasMember(String simpleName, String member) {
        List<String> candidates = bySimpleName.getOrDefault(simpleName, Set.of()).stream()
                .filter(n -> n.endsWith("." + simpleName) || n.endsWith("$" + simpleName)).toList();
        List<String> ours = candidates.stream().filter(n -> n.startsWith("io.quarkiverse.modelsharing.")).toList();
        boolean loadable = false;
        for (String binaryName : ours.isEmpty() ? candidates : ours) {
            Class<?> type;
            try {
                type = Class.forName(binaryName, false, Types.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                continue;
            }
            loadable = true;
            if (hasMember(type, member)) {
                return true;
            }
        }
        return !loadable; // a test class of another module: its name was checked, its members cannot be
    }

    private static boolean hasMember(Class<?> type, String member) {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            if (named(c.getDeclaredMethods(), member) || named(c.getDeclaredFields(), member)
                    || Stream.of(c.getDeclaredClasses()).anyMatch(n -> n.getSimpleName().equals(member))) {
                return true;
            }
            for (Class<?> i : c.getInterfaces()) {
                if (hasMember(i, member)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean named(Member[] members, String name) {
        return Stream.of(members).anyMatch(m -> m.getName().equals(name));
    }

    private void addClassPathEntry(Path entry) {
        if (Files.isDirectory(entry)) {
            try (Stream<Path> files = Files.walk(entry)) {
                files.filter(f -> f.toString().endsWith(".class"))
                        .forEach(f -> addClassFile(entry.relativize(f).toString()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        } else if (entry.toString().endsWith(".jar") && Files.isRegularFile(entry)) {
            try (ZipFile jar = new ZipFile(entry.toFile())) {
                Enumeration<? extends ZipEntry> entries = jar.entries();
                while (entries.hasMoreElements()) {
                    addClassFile(entries.nextElement().getName());
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + entry, e);
            }
        }
    }

    private void addJdk() {
        FileSystem jrt = FileSystems.getFileSystem(URI.create("jrt:/"));
        try (Stream<Path> modules = Files.list(jrt.getPath("/modules"))) {
            for (Path module : modules.filter(m -> m.getFileName().toString().startsWith("java.")).toList()) {
                try (Stream<Path> files = Files.walk(module)) {
                    files.forEach(f -> addClassFile(module.relativize(f).toString()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void addClassFile(String path) {
        if (path.endsWith(".class") && !path.startsWith("META-INF/") && !path.endsWith("module-info.class")) {
            add(path.substring(0, path.length() - ".class".length()).replace('/', '.').replace(File.separatorChar, '.'));
        }
    }

    private void add(String binaryName) {
        String simple = binaryName.substring(binaryName.lastIndexOf('.') + 1);
        for (String part : List.of(simple.split("\\$"))) {
            if (!part.isEmpty() && !Character.isDigit(part.charAt(0))) {
                bySimpleName.computeIfAbsent(part, k -> new HashSet<>()).add(binaryName);
            }
        }
    }
}
