package io.quarkiverse.modelsharing.inference;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import io.quarkiverse.modelsharing.Digests;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * How requests of different lengths are padded to run as one batch: which inputs grow along {@code dimension} (the
 * sequence, 1 for {@code [batch, sequence]} token ids) and with which value, and which outputs follow the sequence
 * along the same dimension, so that each request gets its own length back. Inputs not named are stacked as they are
 * and must agree in every dimension but the first; outputs not named are split by rows only.
 * <p>
 * A text encoder's usual padding is {@code input_ids} with the tokenizer's pad id, {@code attention_mask} and
 * {@code token_type_ids} with 0, and {@code last_hidden_state} following: the attention mask keeps the padded
 * positions out of every real token's result. Padding a model whose inputs are not masked changes its answers.
 * <p>
 * {@code bucketWidth}, if positive, batches only requests whose lengths fall in the same bucket of that many
 * positions, which bounds the padding a short request pays for a long one.
 *
 * @param padValues the value each padded input is filled with, by input name, in order
 * @param dimension the padded dimension, at least 1
 * @param sequenceOutputs the outputs whose {@code dimension} is the batch's padded length
 * @param bucketWidth positions per length bucket; 0 for none
 */
public record Padding(Map<String, Double> padValues, int dimension, Set<String> sequenceOutputs, int bucketWidth) {

    public Padding {
        if (padValues.isEmpty()) {
            throw new IllegalArgumentException("padding names no input to pad");
        }
        if (dimension < 1) {
            throw new IllegalArgumentException("the padded dimension is " + dimension
                    + "; it must be at least 1, as dimension 0 is the batch");
        }
        if (bucketWidth < 0) {
            throw new IllegalArgumentException("the bucket width is " + bucketWidth + "; it must be 0 (none) or more");
        }
        // sorted: one padding has one text, whichever order it was configured in (workers compare the texts)
        for (String name : padValues.keySet()) {
            checkName(name);
        }
        for (String name : sequenceOutputs) {
            checkName(name);
        }
        padValues = Collections.unmodifiableMap(new java.util.TreeMap<>(padValues));
        sequenceOutputs = Collections.unmodifiableSet(new java.util.TreeSet<>(sequenceOutputs));
    }

    /** A text encoder's padding: token ids with {@code padId}, the mask and the token types with 0. */
    public static Padding text(long padId, Set<String> inputs, Set<String> sequenceOutputs, int bucketWidth) {
        Map<String, Double> values = new LinkedHashMap<>();
        for (String input : inputs) {
            values.put(input, input.equals("input_ids") ? (double) padId : 0.0);
        }
        return new Padding(values, 1, sequenceOutputs, bucketWidth);
    }

    /**
     * The length this request's padded inputs share along {@link #dimension()}; -1 if they do not share one, share 0,
     * or an input to pad is missing or of too small a rank, so that the request runs alone.
     */
    public long length(Map<String, Tensor> inputs) {
        long length = -1;
        for (String name : padValues.keySet()) {
            Tensor input = inputs.get(name);
            if (input == null || input.rank() <= dimension) {
                return -1;
            }
            long own = input.dim(dimension);
            if (own == 0 || (length >= 0 && own != length)) {
                return -1;
            }
            length = own;
        }
        return length;
    }

    /** The bucket a request of {@code length} falls in: all lengths share one without bucketing. */
    public long bucket(long length) {
        return bucketWidth == 0 ? 0 : (length + bucketWidth - 1) / bucketWidth;
    }

    /**
     * Whether {@code b}'s inputs can join a batch with {@code a}'s: the same names and dtypes and ranks, the same
     * dimensions past the first except the padded dimension of padded inputs, a padded length each (not 0), in one
     * bucket.
     */
    public boolean stacks(Map<String, Tensor> a, Map<String, Tensor> b) {
        long lengthA = length(a);
        long lengthB = length(b);
        if (lengthA < 0 || lengthB < 0 || bucket(lengthA) != bucket(lengthB)) {
            return false;
        }
        return Batches.sameLayout(a, b, this);
    }

    /**
     * Whether a batch of {@code rows} rows padded to {@code longest} holds no more padded positions than real ones
     * ({@code real}): the bound on what padding costs, in memory and in work, against what the requests sent, so that
     * one long request does not make a batch of short ones many times their size.
     */
    public static boolean worthPadding(long rows, long longest, long real) {
        try {
            return Math.multiplyExact(rows, longest) <= Math.multiplyExact(2, real);
        } catch (ArithmeticException tooLarge) {
            return false;
        }
    }

    /** Whether {@code input} is padded. */
    public boolean pads(String input) {
        return padValues.containsKey(input);
    }

    /**
     * The canonical text of this padding, names sorted, which {@link #parse} reads back:
     * {@code attention_mask=0,input_ids=0;dimension=1;outputs=last_hidden_state;bucket=16}.
     */
    @Override
    public String toString() {
        return padValues.entrySet().stream().map(e -> e.getKey() + "=" + format(e.getValue()))
                .collect(Collectors.joining(",")) + ";dimension=" + dimension + ";outputs="
                + String.join(",", sequenceOutputs) + ";bucket=" + bucketWidth;
    }

    /** 8 hex digits that tell this padding from another: part of the name a model padded so is registered under. */
    public String fingerprint() {
        return Digests.sha256Hex(toString(), 4);
    }

    /**
     * Reads the text {@link #toString()} writes.
     *
     * @throws IllegalArgumentException naming what is wrong, for any other text
     */
    public static Padding parse(String text) {
        String[] parts = text.split(";", -1);
        if (parts.length != 4 || !parts[1].startsWith("dimension=") || !parts[2].startsWith("outputs=")
                || !parts[3].startsWith("bucket=")) {
            throw new IllegalArgumentException("padding '" + text + "' is not <input>=<value>,...;dimension=<n>;"
                    + "outputs=<output>,...;bucket=<n>");
        }
        Map<String, Double> values = new LinkedHashMap<>();
        for (String pair : parts[0].split(",")) {
            int equals = pair.indexOf('=');
            if (equals <= 0) {
                throw new IllegalArgumentException("padding '" + text + "': '" + pair + "' is not <input>=<value>");
            }
            try {
                values.put(pair.substring(0, equals), Double.parseDouble(pair.substring(equals + 1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("padding '" + text + "': the pad value of '" + pair.substring(0, equals)
                        + "' is not a number");
            }
        }
        String outputs = parts[2].substring("outputs=".length());
        Set<String> sequence = outputs.isEmpty() ? Set.of() : new java.util.TreeSet<>(List.of(outputs.split(",")));
        try {
            return new Padding(values, Integer.parseInt(parts[1].substring("dimension=".length())), sequence,
                    Integer.parseInt(parts[3].substring("bucket=".length())));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("padding '" + text + "': the dimension and the bucket are whole numbers");
        }
    }

    /**
     * Checks that the model has every input to pad, of a rank past the padded dimension and a dtype that holds its pad
     * value exactly, and every output that follows the sequence.
     *
     * @throws TensorException naming what is wrong
     */
    public void checkAgainst(String model, List<TensorSpec> inputs, List<TensorSpec> outputs) {
        Map<String, TensorSpec> byName = new java.util.HashMap<>();
        inputs.forEach(spec -> byName.put(spec.name(), spec));
        Set<String> outputNames = outputs.stream().map(spec -> spec.name()).collect(Collectors.toSet());
        for (Map.Entry<String, Double> pad : padValues.entrySet()) {
            TensorSpec input = byName.get(pad.getKey());
            if (input == null) {
                throw new TensorException("Model '" + model + "' pads input '" + pad.getKey() + "', which it does not"
                        + " have; its inputs are " + new java.util.TreeSet<>(byName.keySet()));
            }
            if (input.shape().length <= dimension) {
                throw new TensorException("Model '" + model + "' pads input '" + pad.getKey() + "' along dimension "
                        + dimension + ", but the input is " + input);
            }
            if (!holds(input.dtype(), pad.getValue())) {
                throw new TensorException("Model '" + model + "' pads input '" + pad.getKey() + "' (" + input.dtype()
                        + ") with " + format(pad.getValue()) + ", which that dtype cannot hold");
            }
        }
        for (String output : sequenceOutputs) {
            if (!outputNames.contains(output)) {
                throw new TensorException("Model '" + model + "' has output '" + output + "' follow the padded"
                        + " sequence, but it has no such output; its outputs are " + outputNames);
            }
        }
    }

    /** Whether an element of {@code dtype} holds {@code value} exactly (floating-point types: any finite value). */
    static boolean holds(DType dtype, double value) {
        if (dtype == DType.F16) {
            return Math.abs(value) <= 65504;
        }
        if (dtype.isFloatingPoint()) {
            return Double.isFinite(value) && (dtype == DType.F64 || Math.abs(value) <= Float.MAX_VALUE);
        }
        if (value != Math.rint(value)) {
            return false;
        }
        return switch (dtype) {
            case I8 -> value >= Byte.MIN_VALUE && value <= Byte.MAX_VALUE;
            case U8 -> value >= 0 && value <= 255;
            case I16 -> value >= Short.MIN_VALUE && value <= Short.MAX_VALUE;
            case U16 -> value >= 0 && value <= 65535;
            case U32 -> value >= 0 && value <= 0xFFFF_FFFFL;
            case U64 -> value >= 0 && value <= 1L << 53;
            case BOOL -> value == 0 || value == 1;
            case I32 -> value >= Integer.MIN_VALUE && value <= Integer.MAX_VALUE;
            default -> Math.abs(value) <= 1L << 53; // I64, exactly representable in the double it is given as
        };
    }

    private static void checkName(String name) {
        if (name.isEmpty() || name.chars().anyMatch(c -> c == ',' || c == ';' || c == '=')) {
            throw new IllegalArgumentException("'" + name + "' cannot be padded or followed: a tensor name in a padding"
                    + " is not empty and has no ',', ';' or '='");
        }
    }

    private static String format(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : Double.toString(value);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Padding padding && padding.toString().equals(toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

}
