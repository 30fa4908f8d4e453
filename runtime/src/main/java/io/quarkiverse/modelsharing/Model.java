package io.quarkiverse.modelsharing;

import static java.lang.annotation.ElementType.FIELD;
import static java.lang.annotation.ElementType.METHOD;
import static java.lang.annotation.ElementType.PARAMETER;
import static java.lang.annotation.RetentionPolicy.RUNTIME;

import java.lang.annotation.Documented;
import java.lang.annotation.Retention;
import java.lang.annotation.Target;

import jakarta.enterprise.util.AnnotationLiteral;
import jakarta.inject.Qualifier;

/**
 * Selects a configured model by name.
 *
 * <pre>
 * {
 *     &#64;code
 *     &#64;Inject
 *     &#64;Model("embedder")
 *     InferenceModel embedder; // placement-transparent: holds the model only while a call runs
 *
 *     @Inject
 *     &#64;Model("embedder")
 *     ModelHandle<OnnxModel> session; // the raw in-process handle: keeps the model loaded while the bean lives
 * }
 * </pre>
 *
 * The name must be configured as {@code quarkus.model-sharing.models."name".path}; an unknown name fails the build.
 */
@Qualifier
@Documented
@Retention(RUNTIME)
@Target({ FIELD, PARAMETER, METHOD })
public @interface Model {

    /** The model's configured name. */
    String value();

    /** For programmatic lookup: {@code Arc.container().instance(InferenceModel.class, Model.Literal.of("a"))}. */
    final class Literal extends AnnotationLiteral<Model> implements Model {

        private static final long serialVersionUID = 1L;

        private final String value;

        private Literal(String value) {
            this.value = value;
        }

        public static Literal of(String value) {
            return new Literal(value);
        }

        @Override
        public String value() {
            return value;
        }
    }
}
