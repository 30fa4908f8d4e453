package io.quarkiverse.modelsharing.text;

import java.util.List;
import java.util.Map;

/** Labels for texts from a sequence classifier configured with {@code task=classification}. */
public interface TextClassifier {

    /** The most probable label of {@code text}, with every label's probability (a softmax of the logits). */
    Classification classify(String text);

    /** The classifications of {@code texts}, in order. */
    List<Classification> classifyAll(List<String> texts);

    /**
     * A text's most probable label and the probability of each label.
     *
     * @param label the most probable label
     * @param probability its probability
     * @param probabilities every label's probability, in the model's order
     */
    record Classification(String label, float probability, Map<String, Float> probabilities) {
    }
}
