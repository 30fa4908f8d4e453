package io.quarkiverse.modelsharing.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** The checker reports each name that does not exist, with its page and line, and nothing that does. */
class DocReferencesTest {

    static final DocReferences CHECKER = new DocReferences(new DocReferences.Known(
            Set.of("quarkus.model-sharing.models.\"model-name\".path", "quarkus.model-sharing.workers.heartbeat-interval"),
            Types.of("io.quarkiverse.modelsharing.registry.ModelRegistry", "io.quarkiverse.modelsharing.Model$Literal",
                    "java.util.concurrent.ConcurrentHashMap"),
            Set.of("--socket", "--model"), Set.of("TensorProto")));

    @Test
    void reportsEveryDanglingNameWithItsLine() {
        String page = """
                = A page

                Set `quarkus.model-sharing.models."embedder".pth` and `workers.heartbeat-intervall`.
                Call `ModelRegistry.evictEverything()`, catch `ModelExplodedException`, read
                `io.quarkiverse.modelsharing.runtime.NoSuchThing`.

                [source,properties]
                ----
                quarkus.model-sharing.registry.policy=lru
                ----

                [source,shell]
                ----
                java -jar worker/target/quarkus-model-sharing-worker.jar --socket /s --modle a=b
                ----
                Start it with `--parent-pid 12`.
                """;
        assertEquals(List.of(
                "a.adoc:3: configuration key quarkus.model-sharing.models.\"embedder\".pth does not exist",
                "a.adoc:3: configuration key quarkus.model-sharing.workers.heartbeat-intervall does not exist",
                "a.adoc:4: member ModelRegistry.evictEverything does not exist",
                "a.adoc:4: class ModelExplodedException does not exist",
                "a.adoc:5: class io.quarkiverse.modelsharing.runtime.NoSuchThing does not exist",
                "a.adoc:9: configuration key quarkus.model-sharing.registry.policy does not exist",
                "a.adoc:14: worker option --modle does not exist",
                "a.adoc:16: worker option --parent-pid does not exist"),
                CHECKER.check("a.adoc", page).stream().map(Object::toString).toList());
    }

    @Test
    void acceptsWhatExists() {
        String page = """
                Set `quarkus.model-sharing.models.embedder.path` (or `quarkus.model-sharing.models."a b".path`),
                `workers.heartbeat-interval` and `quarkus.model-sharing.workers`, like a `ConcurrentHashMap`, ONNX's `TensorProto`.
                `ModelRegistry`, `@Model("x")`, `Model.Literal.of("a")` and `ModelRegistry.close()`; SIGKILL, `F32`,
                `--enable-native-access=ALL-UNNAMED`, `--socket`, `-XX:+UseSerialGC`.

                ----
                docker run --shm-size=2g
                ----
                """;
        assertEquals(List.of(), CHECKER.check("b.adoc", page));
    }

    @Test
    void modelNamesNormalizeToTheReferencesPlaceholder() {
        assertEquals("quarkus.model-sharing.models.\"model-name\".path",
                DocReferences.normalize("quarkus.model-sharing.models.embedder.path"));
        assertEquals("quarkus.model-sharing.models.\"model-name\".path",
                DocReferences.normalize("quarkus.model-sharing.models.\"a.b\".path"));
        assertEquals("quarkus.model-sharing.models.\"model-name\"",
                DocReferences.normalize("quarkus.model-sharing.models.embedder"));
    }
}
