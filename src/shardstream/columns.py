"""Turn what users pass to ``put_batch`` into Arrow arrays the core can read.

Accepted for keys and payloads: pyarrow arrays and chunked arrays, numpy
arrays (object, ``S``/``U`` strings, or 2-D ``uint8`` as fixed-width
payloads), pandas Series and Python sequences of ``str``/``bytes``.  Nothing
is copied when the input already is an Arrow string/binary array.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .errors import InvalidArgumentException, SerializationException

__all__ = ["as_hash_key_array", "as_key_array", "as_payload_array"]

_BINARY_LIKE = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_string, pa.types.is_large_string)


def _to_arrow(values, what: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if isinstance(values, pa.Array):
        return values if not (pa.types.is_null(values.type) and len(values) == 0) else pa.array([], pa.binary())
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.dtype == np.uint8:
            return _fixed_width_to_binary(values)
        if values.ndim != 1:
            raise SerializationException(f"{what} must be one-dimensional, got shape {values.shape}")
        return pa.array(values)
    if hasattr(values, "__arrow_c_array__") or hasattr(values, "__arrow_c_stream__"):
        return _to_arrow(pa.chunked_array(values) if hasattr(values, "__arrow_c_stream__") else pa.array(values), what)
    try:
        arr = pa.array(values if not isinstance(values, (str, bytes)) else [values])
        return arr if not (pa.types.is_null(arr.type) and len(arr) == 0) else pa.array([], pa.binary())
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SerializationException(f"{what} must hold only str or bytes values: {exc}") from None


def _fixed_width_to_binary(matrix: np.ndarray) -> pa.Array:
    """A (rows, width) uint8 matrix as a binary array sharing its memory."""
    matrix = np.ascontiguousarray(matrix)
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if n * width > 2**31 - 1 else np.int32)
    kind = pa.large_binary() if offsets.dtype == np.int64 else pa.binary()
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(matrix)])


def _decode_dictionary(arr: pa.Array) -> pa.Array:
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def as_key_array(values) -> pa.Array:
    """Partition keys as an Arrow string array without nulls (UTF-8 checked).

    Parameters
    ----------
    values : pyarrow array, numpy array, pandas Series or sequence of str
        Dictionary arrays are decoded; binary arrays are cast to strings.

    Returns
    -------
    pyarrow.Array
        ``string`` or ``large_string``.

    Raises
    ------
    InvalidArgumentException
        A null, or bytes that are not UTF-8.
    SerializationException
        Values of another type.
    """
    arr = _decode_dictionary(_to_arrow(values, "partition_keys"))
    if pa.types.is_null(arr.type) or arr.null_count:
        raise InvalidArgumentException("partition_keys must not contain nulls")
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        try:
            arr = arr.cast(pa.large_string() if pa.types.is_large_binary(arr.type) else pa.string())
        except pa.ArrowInvalid:
            raise InvalidArgumentException("partition keys must be valid UTF-8") from None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise SerializationException(f"partition_keys must be strings, got Arrow type {arr.type}")
    return arr


def as_payload_array(values) -> pa.Array:
    """Record payloads as an Arrow binary-like array without nulls.

    Parameters
    ----------
    values : pyarrow array, numpy array, pandas Series or sequence of bytes/str
        A fixed-size binary array (or a 2-D ``uint8`` matrix) gives one
        fixed-width payload per row.

    Returns
    -------
    pyarrow.Array
        Binary or string (or their large variants).

    Raises
    ------
    InvalidArgumentException
        A null.
    SerializationException
        Values of another type.
    """
    arr = _decode_dictionary(_to_arrow(values, "data"))
    if pa.types.is_fixed_size_binary(arr.type):
        width = arr.type.byte_width
        buf = arr.buffers()[1]
        if arr.null_count:
            raise InvalidArgumentException("data must not contain nulls")
        start = arr.offset * width
        matrix = np.frombuffer(buf, dtype=np.uint8, count=len(arr) * width, offset=start).reshape(len(arr), width)
        return _fixed_width_to_binary(matrix)
    if pa.types.is_null(arr.type) or arr.null_count:
        raise InvalidArgumentException("data must not contain nulls")
    if not any(test(arr.type) for test in _BINARY_LIKE):
        raise SerializationException(f"data must be bytes or str values, got Arrow type {arr.type}")
    return arr


def as_hash_key_array(values, length: int) -> pa.Array:
    """Explicit hash keys (decimal strings or ints; None for "use the partition key").

    Parameters
    ----------
    values : array-like of str, int or None
    length : int
        The number of records: there must be one hash key (or None) per record.

    Returns
    -------
    pyarrow.Array
        Decimal strings, with nulls where the partition key decides (not range-checked here).

    Raises
    ------
    SerializationException
        Values that are neither strings nor integers.
    InvalidArgumentException
        Not ``length`` values.
    """
    if isinstance(values, (list, tuple)):
        values = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
    arr = _decode_dictionary(_to_arrow(values, "explicit_hash_keys"))
    if pa.types.is_null(arr.type):
        arr = pa.array([None] * len(arr), pa.string())
    if pa.types.is_integer(arr.type):
        arr = arr.cast(pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise SerializationException(f"explicit_hash_keys must be decimal strings, got Arrow type {arr.type}")
    if len(arr) != length:
        raise InvalidArgumentException(f"got {length} partition keys but {len(arr)} explicit hash keys")
    return arr
