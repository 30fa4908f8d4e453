package io.quarkiverse.modelsharing.runtime;

import java.util.ArrayList;
import java.util.List;

import io.quarkiverse.modelsharing.text.TextTask;

/**
 * What the build found of a text model (one configured with a tokenizer): its tokenizer's location, its task, the
 * token inputs it reads and the outputs that follow the sequence. Recorded into the application as a bean-style
 * object.
 */
public class TextModelShape {

    private String tokenizer;
    private TextTask task;
    private List<String> inputs = new ArrayList<>();
    private List<String> sequenceOutputs = new ArrayList<>();

    public TextModelShape() {
    }

    public TextModelShape(String tokenizer, TextTask task, List<String> inputs, List<String> sequenceOutputs) {
        this.tokenizer = tokenizer;
        this.task = task;
        this.inputs = new ArrayList<>(inputs);
        this.sequenceOutputs = new ArrayList<>(sequenceOutputs);
    }

    /** Where the tokenizer.json is, as configured. */
    public String getTokenizer() {
        return tokenizer;
    }

    public void setTokenizer(String tokenizer) {
        this.tokenizer = tokenizer;
    }

    public TextTask getTask() {
        return task;
    }

    public void setTask(TextTask task) {
        this.task = task;
    }

    /** The model's token inputs: input_ids, attention_mask, and token_type_ids if it reads them. */
    public List<String> getInputs() {
        return inputs;
    }

    public void setInputs(List<String> inputs) {
        this.inputs = inputs;
    }

    /** Outputs of rank 3 or more whose first two dimensions are free: the token vectors. */
    public List<String> getSequenceOutputs() {
        return sequenceOutputs;
    }

    public void setSequenceOutputs(List<String> sequenceOutputs) {
        this.sequenceOutputs = sequenceOutputs;
    }
}
