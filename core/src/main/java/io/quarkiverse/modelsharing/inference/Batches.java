package io.quarkiverse.modelsharing.inference;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * Stacks the inputs of several requests into one batch along the first dimension, padding the inputs a
 * {@link Padding} names to the batch's longest sequence, and splits a batch's outputs back into each request's
 * rows, trimmed to its own length where an output follows the sequence. Every byte of a stacked input is written (the
 * requests' bytes, then pad values), so no uninitialised memory reaches a model. Used by the in-process
 * {@link BatchingInferenceModel} and by the workers' batcher.
 */
public final class Batches {

    private Batches() {
    }

    /**
     * Takes a run slot if one is free and no queued batch waits for one (a fair semaphore's queue), so that a caller
     * never overtakes the batches that wait; unlike {@code tryAcquire()}, which barges.
     */
    public static boolean takeFreeSlot(Semaphore slots) {
        try {
            return slots.tryAcquire(0, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * The rows a request adds to a batch: the first dimension that all its inputs share; 0 when stacking it would be
     * unsound, so that it runs alone: no inputs, a scalar, inputs that disagree on their rows (one of them broadcast by
     * the model, say), or no rows at all.
     */
    public static long rows(Map<String, Tensor> inputs) {
        long rows = 0;
        for (Tensor input : inputs.values()) {
            if (input.rank() == 0 || input.dim(0) == 0 || (rows != 0 && input.dim(0) != rows)) {
                return 0;
            }
            rows = input.dim(0);
        }
        return rows;
    }

    /**
     * Whether two requests' inputs stack: the same names, dtypes and ranks, and the same dimensions past the first,
     * except {@code padding}'s dimension of the inputs it pads ({@code padding} may be null: nothing is padded).
     */
    public static boolean sameLayout(Map<String, Tensor> a, Map<String, Tensor> b, Padding padding) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (Map.Entry<String, Tensor> input : a.entrySet()) {
            Tensor mine = input.getValue();
            Tensor theirs = b.get(input.getKey());
            if (mine.dtype() != theirs.dtype() || mine.rank() == 0 || mine.rank() != theirs.rank()) {
                return false;
            }
            long[] x = mine.shape();
            long[] y = theirs.shape();
            boolean padded = padding != null && padding.pads(input.getKey());
            for (int axis = 1; axis < x.length; axis++) {
                if (x[axis] != y[axis] && !(padded && axis == padding.dimension())) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Whether {@code b}'s inputs stack onto {@code a}'s: {@link Padding#stacks} with a padding, {@link #sameLayout}
     * without.
     */
    public static boolean stacks(Padding padding, Map<String, Tensor> a, Map<String, Tensor> b) {
        return padding != null ? padding.stacks(a, b) : sameLayout(a, b, null);
    }

    /**
     * A batch being gathered, for the batchers: what its first request fixes (the layout the others must stack onto)
     * and what it holds so far (rows, longest padded length, real positions), so that a request joins only if it
     * stacks, the rows stay within the batch's, and the batch keeps {@link Padding#worthPadding the padding bound}.
     */
    public static final class Gathering {

        private final Map<String, Tensor> first;
        private final Padding padding;
        private final long maxRows;
        private long rows;
        private long longest;
        private long real;

        /** A batch of {@code first} alone, of at most {@code maxRows} rows; {@code padding} may be null. */
        public Gathering(Map<String, Tensor> first, Padding padding, long maxRows) {
            this.first = first;
            this.padding = padding;
            this.maxRows = maxRows;
            this.rows = rows(first);
            this.longest = padding == null ? 0 : padding.length(first);
            this.real = rows * longest;
        }

        /** Whether the batch has all the rows it may hold. */
        public boolean full() {
            return rows >= maxRows;
        }

        /** Adds a request's inputs if they join the batch; returns whether they did. */
        public boolean add(Map<String, Tensor> inputs) {
            long more = rows(inputs);
            long length = padding == null ? 0 : padding.length(inputs);
            if (more == 0 || rows + more > maxRows || !stacks(padding, first, inputs) || (padding != null
                    && !Padding.worthPadding(rows + more, Math.max(longest, length), real + more * length))) {
                return false;
            }
            rows += more;
            longest = Math.max(longest, length);
            real += more * length;
            return true;
        }
    }

    /** Positions of padded inputs in a batcher's padded batches that were padding, and all their positions. */
    public static final class Waste {

        private final LongAdder padded = new LongAdder();
        private final LongAdder all = new LongAdder();

        /** Counts a batch of {@code requests} padded with {@code padding} (nothing if null). */
        public void add(List<Map<String, Tensor>> requests, Padding padding) {
            if (padding != null) {
                long[] counts = padding(requests, padding);
                padded.add(counts[0]);
                all.add(counts[1]);
            }
        }

        /** Whether a padded batch has been counted. */
        public boolean any() {
            return all.sum() > 0;
        }

        /** The share of positions that were padding, 0 to 1; 0 before any padded batch. */
        public double share() {
            long positions = all.sum();
            return positions == 0 ? 0 : (double) padded.sum() / positions;
        }
    }

    /** The longest padded length of {@code requests}, or 0 without padding. */
    public static long longest(List<Map<String, Tensor>> requests, Padding padding) {
        return padding == null ? 0 : requests.stream().mapToLong(padding::length).max().orElse(0);
    }

    /**
     * The requests' inputs stacked along the first dimension, in {@code allocator}'s memory; the caller closes them.
     *
     * @throws TensorException if the requests do not stack (see {@link #sameLayout})
     */
    public static Map<String, Tensor> stack(List<Map<String, Tensor>> requests, Padding padding, TensorAllocator allocator) {
        long rows = requests.stream().mapToLong(Batches::rows).sum();
        long longest = longest(requests, padding);
        Map<String, Tensor> stacked = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> input : requests.get(0).entrySet()) {
                String name = input.getKey();
                long[] shape = input.getValue().shape();
                shape[0] = rows;
                boolean padded = padding != null && padding.pads(name);
                if (padded) {
                    shape[padding.dimension()] = longest;
                }
                Tensor target = allocator.allocateUninitialized(input.getValue().dtype(), shape);
                stacked.put(name, target);
                long offset = 0;
                for (Map<String, Tensor> request : requests) {
                    Tensor part = request.get(name);
                    if (part == null || !sameLayout(Map.of(name, part), Map.of(name, input.getValue()), padding)) {
                        throw new TensorException("Input '" + name + "' of a batch does not stack: " + part + " beside "
                                + input.getValue());
                    }
                    offset = padded ? copyPadded(part, target, offset, padding.dimension(), longest,
                            padding.padValues().get(name)) : copy(part, target, offset);
                }
                if (offset != target.byteSize()) {
                    throw new TensorException("Input '" + name + "' of a batch has " + offset + " bytes for " + target
                            + ": its requests do not stack");
                }
            }
            return stacked;
        } catch (RuntimeException e) {
            stacked.values().forEach(Tensor::close);
            throw e;
        }
    }

    /**
     * Each request's part of a batch's {@code outputs}, in order: its rows of every output, and of an output that
     * follows the sequence only its own length (a copy in {@code allocator}'s memory where that is shorter than the
     * batch's). Views hold the outputs' memory; the caller closes every tensor returned.
     *
     * @throws TensorException if an output's first dimension is not the batch's rows, or a sequence output's padded
     *         dimension is not the batch's longest length: such a batch cannot be split, and its requests should run
     *         alone
     */
    public static List<Map<String, Tensor>> split(String model, Map<String, Tensor> outputs,
            List<Map<String, Tensor>> requests, Padding padding, TensorAllocator allocator) {
        long rows = requests.stream().mapToLong(Batches::rows).sum();
        long longest = longest(requests, padding);
        for (Map.Entry<String, Tensor> output : outputs.entrySet()) {
            Tensor tensor = output.getValue();
            if (tensor.rank() == 0 || tensor.dim(0) != rows) {
                throw new TensorException("Output '" + output.getKey() + "' of model '" + model + "' is " + tensor
                        + " for a batch of " + rows + " rows: its first dimension is not the batch, so it cannot be split");
            }
            if (follows(padding, output.getKey()) && (tensor.rank() <= padding.dimension()
                    || tensor.dim(padding.dimension()) != longest)) {
                throw new TensorException("Output '" + output.getKey() + "' of model '" + model + "' is " + tensor
                        + " for a batch padded to " + longest + ": its dimension " + padding.dimension()
                        + " does not follow the sequence");
            }
            if (padding != null && !follows(padding, output.getKey()) && tensor.rank() > padding.dimension() + 1
                    && tensor.dim(padding.dimension()) == longest && !oneLength(requests, padding)) {
                // it may follow the sequence without being said to: split by rows only, a short request would get the
                // batch's padded positions; the requests run alone instead. Only outputs with dimensions past the padded
                // one ([batch, tokens, hidden]): a [batch, labels] output whose labels happen to match is left alone
                throw new TensorException("Output '" + output.getKey() + "' of model '" + model + "' is " + tensor
                        + " for a batch padded to " + longest + ": its dimension " + padding.dimension() + " may follow"
                        + " the sequence, but the padding does not name it among the outputs that do");
            }
        }
        List<Map<String, Tensor>> parts = new ArrayList<>();
        try {
            long from = 0;
            for (Map<String, Tensor> request : requests) {
                long to = from + rows(request);
                Map<String, Tensor> part = new LinkedHashMap<>();
                parts.add(part);
                for (Map.Entry<String, Tensor> output : outputs.entrySet()) {
                    Tensor slice = output.getValue().slice(from, to);
                    long length = padding == null ? 0 : padding.length(request);
                    if (follows(padding, output.getKey()) && length < longest) {
                        try (slice) {
                            part.put(output.getKey(), trim(slice, padding.dimension(), length, allocator));
                        }
                    } else {
                        part.put(output.getKey(), slice);
                    }
                }
                from = to;
            }
            return parts;
        } catch (RuntimeException e) {
            parts.forEach(part -> part.values().forEach(Tensor::close));
            throw e;
        }
    }

    /** Positions of the padded inputs that are padding, and all their positions, in a batch of {@code requests}. */
    public static long[] padding(List<Map<String, Tensor>> requests, Padding padding) {
        long longest = longest(requests, padding);
        long real = 0;
        long all = 0;
        for (Map<String, Tensor> request : requests) {
            real += rows(request) * padding.length(request);
            all += rows(request) * longest;
        }
        return new long[] { all - real, all };
    }

    /** Whether every request of the batch has the same padded length: then nothing was padded. */
    private static boolean oneLength(List<Map<String, Tensor>> requests, Padding padding) {
        return requests.stream().mapToLong(padding::length).distinct().count() == 1;
    }

    private static boolean follows(Padding padding, String output) {
        return padding != null && padding.sequenceOutputs().contains(output);
    }

    private static long copy(Tensor part, Tensor target, long offset) {
        MemorySegment.copy(part.segment(), 0, target.segment(), offset, part.byteSize());
        return offset + part.byteSize();
    }

    /** Copies {@code part} into {@code target} at {@code offset}, each run along {@code dimension} padded to length. */
    private static long copyPadded(Tensor part, Tensor target, long offset, int dimension, long longest, double value) {
        long[] shape = part.shape();
        long outer = 1;
        for (int axis = 0; axis < dimension; axis++) {
            outer *= shape[axis];
        }
        long inner = part.dtype().byteSize();
        for (int axis = dimension + 1; axis < shape.length; axis++) {
            inner *= shape[axis];
        }
        long own = shape[dimension] * inner;
        long full = longest * inner;
        byte[] element = element(part.dtype(), value);
        MemorySegment source = part.segment();
        MemorySegment destination = target.segment();
        for (long block = 0; block < outer; block++) {
            MemorySegment.copy(source, block * own, destination, offset, own);
            fill(destination.asSlice(offset + own, full - own), element);
            offset += full;
        }
        return offset;
    }

    /** The first {@code length} positions along {@code dimension} of {@code tensor}, copied. */
    private static Tensor trim(Tensor tensor, int dimension, long length, TensorAllocator allocator) {
        long[] shape = tensor.shape();
        long outer = 1;
        for (int axis = 0; axis < dimension; axis++) {
            outer *= shape[axis];
        }
        long inner = tensor.dtype().byteSize();
        for (int axis = dimension + 1; axis < shape.length; axis++) {
            inner *= shape[axis];
        }
        long full = shape[dimension] * inner;
        long own = length * inner;
        long[] trimmed = shape.clone();
        trimmed[dimension] = length;
        Tensor copy = allocator.allocateUninitialized(tensor.dtype(), trimmed);
        for (long block = 0; block < outer; block++) {
            MemorySegment.copy(tensor.segment(), block * full, copy.segment(), block * own, own);
        }
        return copy;
    }

    private static void fill(MemorySegment region, byte[] element) {
        boolean uniform = true;
        for (byte b : element) {
            uniform &= b == element[0];
        }
        if (uniform) {
            region.fill(element[0]);
            return;
        }
        MemorySegment one = MemorySegment.ofArray(element);
        for (long at = 0; at < region.byteSize(); at += element.length) {
            MemorySegment.copy(one, 0, region, at, element.length);
        }
    }

    /** One element of {@code dtype} holding {@code value}, in the native byte order. */
    static byte[] element(DType dtype, double value) {
        MemorySegment one = MemorySegment.ofArray(new byte[dtype.byteSize()]);
        ValueLayout.OfLong longs = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());
        switch (dtype) {
            case F32 -> one.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 0, (float) value);
            case F64 -> one.set(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0, value);
            case F16 -> one.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, Float.floatToFloat16((float) value));
            case BF16 -> one.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0,
                    (short) (Float.floatToRawIntBits((float) value) >>> 16));
            case I64, U64 -> one.set(longs, 0, (long) value);
            case I32, U32 -> one.set(ValueLayout.JAVA_INT_UNALIGNED, 0, (int) (long) value);
            case I16, U16 -> one.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) (long) value);
            case I8, U8, BOOL -> one.set(ValueLayout.JAVA_BYTE, 0, (byte) (long) value);
        }
        return one.toArray(ValueLayout.JAVA_BYTE);
    }
}
