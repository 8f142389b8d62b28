"""The on-disk format of segments: naming, stored schema, per-batch CRC-32, exact buffers.

This module's one job is the bytes: what a segment file is named and holds,
how a batch's CRC-32 is computed, and the exact buffers a batch is written
with.  :mod:`.segment` writes one file in this format, :mod:`.recovery` checks
and repairs files against it, :mod:`.log` keeps a shard's sequence of them.

On-disk format
--------------
One directory per shard holds its *segments*, each an Arrow IPC **stream**
(not file) named by the counter of its first record, zero-padded to 20 digits
(``2**64 - 1`` has 20 digits), so that name order is counter order::

    <shard dir>/00000000000000000001.arrows
    <shard dir>/00000000000000052001.arrows     <- the active (newest) segment

Each segment contains, in order:

* the schema message: :data:`STORED_SCHEMA`, i.e. ``RECORD_SCHEMA`` plus a
  final non-nullable ``counter`` uint64 column holding each record's per-shard
  counter (a field of its sequence number, kept as an integer so that
  recovery and range reads need not parse strings; streams from before 2026
  stored sequence numbers in an older layout, which readers re-derive from
  the counter and arrival time);
* for every appended batch: a dictionary message whenever the ``shard_id``
  dictionary changes (normally only before the first batch), then one record
  batch message whose custom metadata holds ``shardstream.crc32``, the CRC-32
  (:func:`zlib.crc32`'s CRC-32, decimal) of all the batch's buffers, dictionary
  buffers included, in column order;
* for a *sealed* segment, the 8-byte end-of-stream marker
  ``ff ff ff ff 00 00 00 00``;
* for the *unsealed* (newest) segment, possibly zeros: the writer's reserve
  (:class:`~.segment.SegmentWriter`), which IPC readers take for the end of
  the stream.

Invariants: counters strictly increase within a batch, across batches and
across segments; a segment's first counter equals the number in its name;
only the newest segment may lack the end-of-stream marker.

Why a stream and a CRC
----------------------
The IPC stream format is a sequence of self-delimiting messages with no
footer, so a crash mid-append leaves a *torn tail*: a prefix of complete
messages followed by a partial one.  Recovery reads messages until the first
failure and truncates the newest segment to the end of the last complete,
CRC-valid record batch.  The IPC reader checks message framing and metadata
but not data bytes, so a flipped byte in a body would go unnoticed without
the per-batch CRC; with it, any damage is detected.  Damage in a sealed
segment is never "repaired": it raises :class:`CorruptSegmentError`, naming
the file and the byte offset of the first bad message.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pyarrow as pa

try:  # the same CRC-32 as zlib's, ~7x faster (ISA-L): pip install 'shardstream[fast]'
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - exercised where isal is not installed
    from zlib import crc32

from ..schema import RECORD_SCHEMA
from ..sequence import LEGACY_END_COUNTER, sequence_counter

__all__ = [
    "COUNTER_FIELD",
    "CRC_METADATA_KEY",
    "EOS_MARKER",
    "SEGMENT_NAME_RE",
    "SEGMENT_SUFFIX",
    "STORED_SCHEMA",
    "CorruptSegmentError",
    "batch_arrivals",
    "batch_counters",
    "batch_crc32",
    "batch_data_offsets",
    "prepare_for_write",
    "segment_file_name",
    "stored_batch",
    "stored_schema",
]

COUNTER_FIELD = pa.field("counter", pa.uint64(), nullable=False)
STORED_SCHEMA = RECORD_SCHEMA.append(COUNTER_FIELD)
CRC_METADATA_KEY = "shardstream.crc32"
SEGMENT_SUFFIX = ".arrows"
EOS_MARKER = b"\xff\xff\xff\xff\x00\x00\x00\x00"
#: A segment file's name; group 1 is its base counter.
SEGMENT_NAME_RE = re.compile(r"(\d{20})" + re.escape(SEGMENT_SUFFIX))


class CorruptSegmentError(ValueError):
    """A segment file is damaged somewhere recovery may not repair it.

    Parameters
    ----------
    path : str or path-like
    offset : int
    reason : str
        As the attributes below.

    Attributes
    ----------
    path : str
        The segment file.
    offset : int
        Byte offset of the first message that failed to read or verify.
    reason : str
        What was wrong.
    """

    def __init__(self, path, offset: int, reason: str):
        self.path = os.fspath(path)
        self.offset = int(offset)
        self.reason = reason
        super().__init__(f"corrupt segment {self.path} at byte offset {self.offset}: {reason}")


def segment_file_name(base_counter: int) -> str:
    """The file name of the segment whose first record has counter ``base_counter``.

    Parameters
    ----------
    base_counter : int

    Returns
    -------
    str
        20 digits and ``.arrows``.

    Raises
    ------
    ValueError
        A counter below 0 or above :data:`~shardstream.sequence.LEGACY_END_COUNTER`.

    Examples
    --------
    >>> segment_file_name(1)
    '00000000000000000001.arrows'
    """
    if not 0 <= base_counter <= LEGACY_END_COUNTER:
        raise ValueError(f"counter out of range: {base_counter}")
    return f"{base_counter:020d}{SEGMENT_SUFFIX}"


def stored_schema(schema: pa.Schema = RECORD_SCHEMA) -> pa.Schema:
    """``schema`` plus the trailing ``counter`` column, as stored in segments."""
    if schema.get_field_index(COUNTER_FIELD.name) >= 0:
        return schema
    return schema.append(COUNTER_FIELD)


def stored_batch(batch: pa.RecordBatch, counters, record_schema: pa.Schema, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in the stored ``schema``: as it is, or a ``record_schema`` batch with its counter column added.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        In ``schema`` (then ``counters`` must be None) or in ``record_schema``.
    counters : array-like of int or None
        Per-row counters of a record-schema batch; by default parsed from its ``sequence_number`` column.
    record_schema, schema : pyarrow.Schema
        The record schema and the stored one (:func:`stored_schema` of it).

    Raises
    ------
    TypeError
        A table rather than a batch.
    ValueError
        Another schema, counters given twice or of another length.
    """
    if isinstance(batch, pa.Table):
        raise TypeError("append a pyarrow.RecordBatch, not a Table (use Table.to_batches())")
    if batch.schema.equals(schema):
        if counters is not None:
            raise ValueError("batch already has a counter column")
        return batch
    if not batch.schema.equals(record_schema):
        raise ValueError(f"batch schema does not match the record schema:\n{batch.schema}")
    if counters is None:
        numbers = batch.column("sequence_number").to_pylist()
        counter_array = pa.array([sequence_counter(text) for text in numbers], type=pa.uint64())
    else:
        counter_array = pa.array(counters, type=pa.uint64())
        if len(counter_array) != batch.num_rows:
            raise ValueError("counters and batch differ in length")
    return pa.RecordBatch.from_arrays([*batch.columns, counter_array], schema=schema)


def _array_crc(arr: pa.Array, crc: int) -> int:
    if isinstance(arr, pa.DictionaryArray):
        crc = _array_crc(arr.indices, crc)
        return _array_crc(arr.dictionary, crc)
    for buf in arr.buffers():
        # Absent buffers (e.g. no validity bitmap) hash as a marker byte so that
        # "absent" and "empty" differ.
        crc = crc32(b"\x00" if buf is None else memoryview(buf), crc)
    return crc


def batch_crc32(batch: pa.RecordBatch) -> int:
    """CRC-32 of all buffers of ``batch`` (dictionaries included), column by column."""
    crc = 0
    for column in batch.columns:
        crc = _array_crc(column, crc)
    return crc


class _NotSimple(Exception):
    """An array :func:`_exact` does not handle."""


_NOT_SIMPLE = ("not simple",)
#: Per Arrow type id, how :func:`_exact` handles it: ``(offset dtype, offset width)`` for
#: binary/string, ``(None, byte width)`` for fixed width, ``_NOT_SIMPLE`` otherwise.
#: Only ids that alone fix the layout are cached (not fixed_size_binary, decimals...).
_KINDS: dict = {}
_CACHEABLE = frozenset(
    t.id
    for t in (
        pa.binary(),
        pa.string(),
        pa.large_binary(),
        pa.large_string(),
        pa.bool_(),
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.uint8(),
        pa.uint16(),
        pa.uint32(),
        pa.uint64(),
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.date32(),
        pa.date64(),
        pa.timestamp("ms"),
    )
)


def _kind(t: pa.DataType):
    if pa.types.is_large_binary(t) or pa.types.is_large_string(t):
        return (np.int64, 8)
    if pa.types.is_binary(t) or pa.types.is_string(t):
        return (np.int32, 4)
    if pa.types.is_boolean(t) or pa.types.is_dictionary(t):
        return _NOT_SIMPLE
    try:
        bits = t.bit_width
    except ValueError:
        return _NOT_SIMPLE
    if bits % 8:
        return _NOT_SIMPLE
    return (None, bits // 8)


def _exact(arr: pa.Array, crc: int) -> tuple[pa.Array, int]:
    """``arr`` unsliced, on buffers cut to exactly what it uses, and ``crc`` extended over them.

    The IPC writer writes an unsliced array's buffers whole, spare capacity
    included, so they must be cut before writing, both to keep segments small
    and so that the CRC-32 taken now covers exactly the bytes a reader will
    get back (the CRC is the one :func:`batch_crc32` computes, folded in the
    same walk).  Zero-copy but for rebased offsets; covers what segments
    hold: fixed-width and binary/string columns without nulls, and
    dictionaries of those; anything else raises :class:`_NotSimple`.
    """
    if isinstance(arr, pa.DictionaryArray):
        indices, dictionary = arr.indices, arr.dictionary
        exact_indices, crc = _exact(indices, crc)
        exact_dictionary, crc = _exact(dictionary, crc)
        if exact_indices is indices and exact_dictionary is dictionary:
            return arr, crc
        return pa.DictionaryArray.from_arrays(exact_indices, exact_dictionary), crc
    if arr.null_count or len(arr) == 0:
        raise _NotSimple
    t = arr.type
    kind = _KINDS.get(t.id)
    if kind is None:
        kind = _kind(t)
        if t.id in _CACHEABLE:
            _KINDS[t.id] = kind
    n, offset, buffers = len(arr), arr.offset, arr.buffers()
    if kind is _NOT_SIMPLE:
        raise _NotSimple
    dtype, width = kind
    if dtype is not None:  # binary / string: offsets + data
        offsets = np.frombuffer(buffers[1], dtype=dtype, count=offset + n + 1)[offset:]
        first, last = int(offsets[0]), int(offsets[n])
        size = (n + 1) * width
        if not offset and not first and buffers[0] is None and buffers[1].size == size and buffers[2].size == last:
            exact, written = arr, buffers  # already exact (batches read out of a ring are)
        else:
            offset_buffer = buffers[1].slice(offset * width, size)
            if first:
                offset_buffer = pa.py_buffer(offsets - offsets.dtype.type(first))
            written = [None, offset_buffer, buffers[2].slice(first, last - first)]
            exact = None
    elif len(buffers) == 2:
        if not offset and buffers[0] is None and buffers[1].size == n * width:
            exact, written = arr, buffers
        else:
            written = [None, buffers[1].slice(offset * width, n * width)]
            exact = None
    else:
        raise _NotSimple
    for buf in written:
        crc = crc32(b"\x00" if buf is None else memoryview(buf), crc)
    if exact is None:
        exact = pa.Array.from_buffers(t, n, written, null_count=0)
    return exact, crc


def prepare_for_write(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    """``batch`` with exactly the buffers that will be written, and their CRC-32.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        In the stored schema.

    Returns
    -------
    (pyarrow.RecordBatch, int)

    The CRC equals what :func:`batch_crc32` computes on the batch read back.
    """
    try:
        original = batch.columns
        columns, crc = [], 0
        for column in original:
            exact, crc = _exact(column, crc)
            columns.append(exact)
        if all(a is b for a, b in zip(columns, original)):
            return batch, crc
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema), crc
    except _NotSimple:
        exact = _canonicalize(batch)  # nulls or other types: let a round trip normalise it (one copy)
        return exact, batch_crc32(exact)


def _canonicalize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` as an IPC reader will see it (unsliced, no all-valid bitmaps).

    Slices and redundant validity bitmaps are normalised by the IPC writer, so
    a CRC computed on the caller's batch would not match the one recomputed on
    read.  A round trip through an in-memory stream gives the exact buffers;
    it costs one memcpy of the batch.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return pa.ipc.open_stream(sink.getvalue()).read_next_batch()


def batch_counters(batch: pa.RecordBatch) -> np.ndarray:
    """The ``counter`` column (the last) of ``batch``, a stored-schema batch, as a uint64 array."""
    return batch.column(batch.num_columns - 1).to_numpy(zero_copy_only=False)


_ARRIVAL_INDEX = RECORD_SCHEMA.get_field_index("approximate_arrival_timestamp")
_DATA_INDEX = RECORD_SCHEMA.get_field_index("data")


def batch_data_offsets(batch: pa.RecordBatch) -> np.ndarray:
    """Start offsets of each row's data in ``batch`` (length ``num_rows + 1``), relative to the first row."""
    data = batch.column(_DATA_INDEX)
    width = np.int64 if pa.types.is_large_binary(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], dtype=width)[data.offset : data.offset + len(data) + 1]
    return offsets.astype(np.int64) - int(offsets[0])


def batch_arrivals(batch: pa.RecordBatch) -> np.ndarray:
    """Arrival times (ms since the epoch, int64) of ``batch``, a stored-schema batch, zero-copy."""
    return batch.column(_ARRIVAL_INDEX).view(pa.int64()).to_numpy(zero_copy_only=False)
