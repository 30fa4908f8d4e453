"""Read and write Quarkus Model Sharing tensors from Python with NumPy, without copying them.

A tensor in shared memory is named by a descriptor (see the shared-memory page of the guide). This module decodes
one and returns a NumPy array that is a view of the pool file's memory mapping: no byte is copied.

    python3 qms_tensor.py <pool directory> <descriptor as hex>
"""
import mmap
import os
import struct
import sys

import numpy as np

MAGIC = 0x54534D51  # "QMST"
BLOCK_MAGIC = 0x42534D51  # "QMSB"
DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 3: np.int8, 2: np.uint8, 5: np.int16, 4: np.uint16,
          6: np.int32, 12: np.uint32, 7: np.int64, 13: np.uint64, 9: np.bool_}  # ONNX TensorProto.DataType codes; BF16 (16) has no NumPy dtype


def read_descriptor(data: bytes) -> dict:
    magic, version, dtype, rank, flags = struct.unpack_from("<IBBBB", data, 0)
    if magic != MAGIC or version != 1:
        raise ValueError("not a version-1 tensor descriptor")
    pool_id = data[8:24].hex()
    generation, offset, byte_offset, length = struct.unpack_from("<qqqq", data, 24)
    shape = struct.unpack_from("<%dq" % rank, data, 56)
    return dict(pool_id=pool_id, generation=generation, offset=offset, byte_offset=byte_offset, length=length,
                dtype=dtype, shape=shape, read_only=bool(flags & 1))


_maps = {}


def open_tensor(directory: str, descriptor: dict, writable: bool = False) -> np.ndarray:
    """A NumPy view of the tensor; the pool file is mapped once per process and kept."""
    key = (descriptor["pool_id"], writable)
    if key not in _maps:
        path = os.path.join(directory, "pool-%s.shm" % descriptor["pool_id"])
        if not os.path.exists(path):
            raise FileNotFoundError("pool %s is not in %s: its owner has exited, or it uses memfd pools (set"
                                    " quarkus.model-sharing.shared-memory.named-files=true)" % (descriptor["pool_id"],
                                                                                              directory))
        with open(path, "r+b" if writable else "rb") as f:
            _maps[key] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    pool = _maps[key]
    header = descriptor["offset"] - 64
    magic, = struct.unpack_from("<I", pool, header)
    state, block_length = struct.unpack_from("<QQ", pool, header + 8)
    generation = state >> 24  # the low 24 bits count the views that hold the block
    if magic != BLOCK_MAGIC or generation != descriptor["generation"]:
        raise ValueError("the block was freed or reused by its owner")
    if descriptor["byte_offset"] + descriptor["length"] > block_length:
        raise ValueError("the descriptor runs past its block")
    dtype = np.dtype(DTYPES[descriptor["dtype"]])
    count = descriptor["length"] // dtype.itemsize
    array = np.frombuffer(pool, dtype=dtype, count=count, offset=descriptor["offset"] + descriptor["byte_offset"])
    return array.reshape(descriptor["shape"])


if __name__ == "__main__":
    tensor = open_tensor(sys.argv[1], read_descriptor(bytes.fromhex(sys.argv[2])))
    print(tensor.dtype, tensor.shape, "sum", tensor.sum())
