package io.quarkiverse.modelsharing.docs;

// tag::imports[]
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.text.TextEmbedder;
// end::imports[]

/** The text models page's example: the passages closest in meaning to a query. */
@ApplicationScoped
public class TextSearch {

    // tag::search[]
    @Inject
    @Model("minilm")
    TextEmbedder embedder; // <1>

    public List<String> closest(String query, List<String> passages, int count) {
        float[] q = embedder.embed(query); // <2>
        List<float[]> vectors = embedder.embedAll(passages); // <3>
        return IntStream.range(0, passages.size()).boxed()
                .sorted(Comparator.comparingDouble(i -> -dot(q, vectors.get(i)))) // unit vectors: dot = cosine
                .limit(count).map(passages::get).toList();
    }
    // end::search[]

    static double dot(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
