package io.quarkiverse.modelsharing.text;

import java.util.List;

/**
 * Relevance scores from a cross-encoder (a reranker) configured with {@code task=scoring}: the model reads the query
 * and a passage together and gives one logit, higher for a more relevant passage.
 */
public interface TextScorer {

    /** The score of {@code passage} for {@code query}. */
    float score(String query, String passage);

    /** The scores of {@code passages} for {@code query}, in the passages' order. */
    List<Float> score(String query, List<String> passages);
}
