package io.quarkiverse.modelsharing.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jar-entry locations, and the fingerprints that name a model to a shared daemon. */
class ModelSourceTest {

    @TempDir
    Path directory;

    @Test
    void aJarEntryIsReadByItsLocationAndBadLocationsSayTheForm() throws Exception {
        Path jar = directory.resolve("models.jar");
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
            out.putNextEntry(new JarEntry("m/affine model.onnx"));
            out.write(TinyModels.affine());
        }
        ModelSource source = ModelSource.parse(ModelSource.jarLocation(jar, "m/affine model.onnx"), null);
        assertEquals(new ModelSource.JarEntrySource(jar.toAbsolutePath(), "m/affine model.onnx"), source);
        assertArrayEquals(TinyModels.affine(), source.readAllBytes());
        assertEquals(TinyModels.affine().length, source.byteSize());
        assertEquals(false, ModelSource.parse(ModelSource.jarLocation(jar, "m/none.onnx"), null).exists());

        for (String bad : new String[] { "jar:file:/a.jar", "jar:file:/a.jar!/", "jar:http://h/a.jar!/m.onnx" }) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> ModelSource.parse(bad, null));
            assertEquals(true, refused.getMessage().startsWith(
                    "A jar entry is named jar:file:/path/to/file.jar!/path/in/jar, not " + bad), refused.getMessage());
        }
    }

    @Test
    void aFingerprintChangesWithTheContentNotWithTheReader() throws Exception {
        Path model = Files.write(directory.resolve("affine.onnx"), TinyModels.affine());
        Files.setLastModifiedTime(model, FileTime.fromMillis(1_000_000));
        String first = ModelSource.file(model).fingerprint();
        assertEquals(first, ModelSource.parse(model.toString(), null).fingerprint(), "the same file, the same name");
        assertEquals(16, first.length());

        Files.write(model, TinyModels.affine()); // exported again
        Files.setLastModifiedTime(model, FileTime.fromMillis(2_000_000));
        assertNotEquals(first, ModelSource.file(model).fingerprint(), "a new export, a new name");

        // "Aa" and "BB" have one String.hashCode: the fingerprint is a digest, not that
        Path aa = Files.write(directory.resolve("Aa.onnx"), TinyModels.affine());
        Path bb = Files.write(directory.resolve("BB.onnx"), TinyModels.affine());
        Files.setLastModifiedTime(aa, FileTime.fromMillis(1_000_000));
        Files.setLastModifiedTime(bb, FileTime.fromMillis(1_000_000));
        assertEquals(aa.toString().hashCode(), bb.toString().hashCode());
        assertNotEquals(ModelSource.file(aa).fingerprint(), ModelSource.file(bb).fingerprint());
    }

    @Test
    void anEntryThatInflatesPastItsDeclaredSizeIsRefused() throws Exception {
        Path jar = directory.resolve("lying.jar");
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
            out.putNextEntry(new JarEntry("m.onnx"));
            out.write(new byte[64 << 10]); // 64 KiB of zeros, a few hundred bytes deflated
        }
        // The central directory says 1 KiB: the entry inflates to 64 times what the registry's admission counted.
        byte[] bytes = Files.readAllBytes(jar);
        int header = -1;
        for (int i = bytes.length - 4; i >= 0 && header < 0; i--) {
            if (bytes[i] == 0x50 && bytes[i + 1] == 0x4b && bytes[i + 2] == 0x01 && bytes[i + 3] == 0x02) {
                header = i;
            }
        }
        java.nio.ByteBuffer.wrap(bytes, header + 24, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(1024);
        Files.write(jar, bytes);

        ModelSource source = ModelSource.parse(ModelSource.jarLocation(jar, "m.onnx"), null);
        assertEquals(1024, source.byteSize());
        java.io.IOException refused = assertThrows(java.io.IOException.class, source::readAllBytes);
        assertEquals("entry m.onnx of jar " + jar.toAbsolutePath() + " does not have the 1024 bytes its jar declares",
                refused.getMessage());
    }
}
