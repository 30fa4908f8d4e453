package io.quarkiverse.modelsharing.dlpack;

/**
 * Byte offsets of DLPack 1.x's {@code DLManagedTensorVersioned} on a 64-bit platform (dlpack.h):
 *
 * <pre>
 * struct DLManagedTensorVersioned {
 *   DLPackVersion version;      //  0: uint32 major, 4: uint32 minor
 *   void *manager_ctx;          //  8
 *   void (*deleter)(struct DLManagedTensorVersioned *self); // 16
 *   uint64_t flags;             // 24: bit 0 read-only, bit 1 is-copied
 *   DLTensor dl_tensor;         // 32:
 *     void *data;               // 32
 *     DLDevice device;          // 40: int32 device_type (1 = CPU), 44: int32 device_id
 *     int32_t ndim;             // 48
 *     DLDataType dtype;         // 52: uint8 code, 53: uint8 bits, 54: uint16 lanes
 *     int64_t *shape;           // 56
 *     int64_t *strides;         // 64: in elements; NULL means compact row-major
 *     uint64_t byte_offset;     // 72
 * };                            // 80 bytes
 * </pre>
 *
 * An exported struct is followed in the same allocation by its shape and strides arrays.
 */
final class DLManagedTensorLayout {

    static final long VERSION_MAJOR = 0;
    static final long VERSION_MINOR = 4;
    static final long MANAGER_CTX = 8;
    static final long DELETER = 16;
    static final long FLAGS = 24;
    static final long DATA = 32;
    static final long DEVICE_TYPE = 40;
    static final long DEVICE_ID = 44;
    static final long NDIM = 48;
    static final long DTYPE_CODE = 52;
    static final long DTYPE_BITS = 53;
    static final long DTYPE_LANES = 54;
    static final long SHAPE = 56;
    static final long STRIDES = 64;
    static final long BYTE_OFFSET = 72;
    static final long BYTES = 80;

    private DLManagedTensorLayout() {
    }
}
