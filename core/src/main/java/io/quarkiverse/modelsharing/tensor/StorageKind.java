package io.quarkiverse.modelsharing.tensor;

/** Where a tensor's bytes live. */
public enum StorageKind {
    /** A Java array on the heap: ONNX Runtime must copy it before reading it. */
    HEAP,
    /** Native memory owned by this process: ONNX Runtime reads it in place. */
    OFF_HEAP,
    /**
     * A block of a shared-memory pool: ONNX Runtime reads it in place, and other processes map it from its
     * descriptor without a copy.
     */
    SHARED
}
