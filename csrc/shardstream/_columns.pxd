# Borrowed views of Arrow binary/string arrays for the nogil loops.
# The caller keeps the pyarrow array alive while it uses the view.
from libc.stdint cimport int32_t, int64_t, uint8_t, uintptr_t


cdef struct BinaryView:
    const uint8_t *data
    const void *offsets
    int wide          # 1: int64 offsets (large_*), 0: int32 offsets
    int64_t length


cdef inline int64_t bv_offset(const BinaryView *v, int64_t i) noexcept nogil:
    if v.wide:
        return (<const int64_t *>v.offsets)[i]
    return (<const int32_t *>v.offsets)[i]


cdef inline int binary_view(object arr, BinaryView *out, bint allow_nulls=False) except -1:
    import pyarrow as pa

    t = arr.type
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        out.wide = 1
    elif pa.types.is_string(t) or pa.types.is_binary(t):
        out.wide = 0
    else:
        raise TypeError(f"expected a string or binary Arrow array, got {t}")
    if arr.null_count and not allow_nulls:
        raise ValueError("array contains nulls")
    bufs = arr.buffers()
    out.offsets = <const void *><uintptr_t>(bufs[1].address + arr.offset * (8 if out.wide else 4))
    out.data = <const uint8_t *><uintptr_t>(bufs[2].address if bufs[2] is not None else 0)
    out.length = len(arr)
    return 0
