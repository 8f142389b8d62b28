"""The read side of aggregation and compression: stored Kinesis records to user records.

A stored record may hold a compression envelope (:mod:`shardstream.compression`),
a KPL aggregate (:mod:`shardstream.aggregation`), an aggregate in an envelope,
or plain data.  Readers decompress first, then de-aggregate:

* :func:`unpack_batch` turns a RECORD_SCHEMA batch into a
  :data:`USER_RECORD_SCHEMA` batch: one row per user record, with a last
  column ``sub_sequence_number`` (the user record's index in its aggregate,
  0 for a plain record).  User records of one aggregate share its sequence
  number, shard and arrival time.
* :func:`unpack_records` does the same for GetRecords dicts (boto3 shape).

The cost is in the first bytes: only records whose data starts with
``F3`` (the KPL magic) or ``F5`` (the envelope) are looked at in Python;
the scan over the batch is numpy over Arrow's offsets and data buffers,
so a batch of plain records costs the scan and a column of zeros.
Anything that is not a valid aggregate or envelope passes through unchanged.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._native import packed_rows
from .aggregation import MAGIC
from .aggregation import deaggregate as _deaggregate
from .compression import ENVELOPE_MAGIC
from .compression import decompress as _decompress
from .schema import RECORD_SCHEMA

__all__ = ["USER_RECORD_SCHEMA", "effective_hash_key", "unpack_batch", "unpack_records"]

USER_RECORD_SCHEMA = RECORD_SCHEMA.append(pa.field("sub_sequence_number", pa.int64(), nullable=False))
_KPL_WORD = int.from_bytes(MAGIC, "little")
_ENVELOPE_WORD = int.from_bytes(ENVELOPE_MAGIC, "little")
_KPL_NATIVE = int.from_bytes(MAGIC, sys.byteorder)  # packed_rows compares words in the machine's order
_ENVELOPE_NATIVE = int.from_bytes(ENVELOPE_MAGIC, sys.byteorder)
_MIN_LENGTH = 6  # the envelope's 5-byte header and a frame; an aggregate needs 21
assert (MAGIC[0] & 0xF9) == (ENVELOPE_MAGIC[0] & 0xF9) == 0xF1  # the scan tests both first bytes with one mask
_DATA = RECORD_SCHEMA.get_field_index("data")
_KEY = RECORD_SCHEMA.get_field_index("partition_key")


def effective_hash_key(partition_key: str, explicit_hash_key: str | None = None) -> int:
    """The hash key a record routes by: its explicit hash key, else the MD5 of its partition key.

    Parameters
    ----------
    partition_key : str
    explicit_hash_key : str, optional

    Returns
    -------
    int

    Examples
    --------
    >>> effective_hash_key("k", "12")
    12
    """
    if explicit_hash_key is not None:
        return int(explicit_hash_key)
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def _candidates(data: pa.Array, deaggregate: bool, decompress: bool) -> np.ndarray:
    """Indexes of the rows whose data starts with the KPL magic or the envelope magic.

    A ``binary`` column (what streams store) is scanned in C without the GIL (:func:`packed_rows`: one
    4-byte compare per row, nothing allocated but the answer); any other binary layout with numpy: one
    gather of each row's first byte, then a full check of the rows whose first byte is a magic's.
    """
    n = len(data)
    _, offsets_buf, values_buf = data.buffers()
    if n == 0 or values_buf is None or values_buf.size == 0:
        return np.empty(0, np.intp)
    if data.type == pa.binary():
        offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=data.offset + n + 1)[data.offset :]
        return packed_rows(
            offsets,
            np.frombuffer(values_buf, dtype=np.uint8),
            _KPL_NATIVE if deaggregate else 0,
            _ENVELOPE_NATIVE if decompress else 0,
            _MIN_LENGTH,
        )
    offset_type = np.int64 if pa.types.is_large_binary(data.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=offset_type, count=data.offset + n + 1)[data.offset :]
    values = np.frombuffer(values_buf, dtype=np.uint8)
    first = values.take(offsets[:-1], mode="clip")  # an empty last row may start at the end: clipped, checked below
    if deaggregate and decompress:  # F3 and F5 (also F1, F7: the full check below drops them) in one pass
        wanted = (first & 0xF9) == 0xF1
    else:
        wanted = first == (MAGIC[0] if deaggregate else ENVELOPE_MAGIC[0])
    if not wanted.any():
        return np.empty(0, np.intp)
    rows = np.flatnonzero(wanted)
    at = offsets[rows]
    long_enough = (offsets[rows + 1] - at) >= _MIN_LENGTH
    rows, at = rows[long_enough], at[long_enough]
    if not rows.size:
        return rows
    word = (
        values[at].astype(np.uint32)
        | (values[at + 1].astype(np.uint32) << 8)
        | (values[at + 2].astype(np.uint32) << 16)
        | (values[at + 3].astype(np.uint32) << 24)
    )
    match = np.zeros(len(rows), bool)
    if deaggregate:
        match |= word == _KPL_WORD
    if decompress:
        match |= word == _ENVELOPE_WORD
    return rows[match]


def _user_records(payload: bytes, deaggregate: bool, decompress: bool):
    """(data, None) for a record that stays one record, or (None, [(key, hash key, data), ...])."""
    if decompress:
        payload = _decompress(payload)
    if deaggregate:
        records = _deaggregate(payload)
        if records is not None:
            return None, records
    return payload, None


def _in_range(records, hash_range) -> list[tuple[int, str, bytes]]:
    """(sub-sequence number, key, data) of the records to keep."""
    if hash_range is None:
        return [(i, key, data) for i, (key, _, data) in enumerate(records)]
    low, high = hash_range
    return [
        (i, key, data) for i, (key, hkey, data) in enumerate(records) if low <= effective_hash_key(key, hkey) <= high
    ]


class _Zeros:
    """One read-only buffer of zeros that every plain batch's ``sub_sequence_number`` column shares."""

    def __init__(self):
        self._buffer = pa.py_buffer(bytes(8 * 65_536))

    def column(self, n: int) -> pa.Array:
        """An int64 array of ``n`` zeros over the shared buffer (grown, never changed, when too small)."""
        buffer = self._buffer
        if buffer.size < 8 * n:
            buffer = self._buffer = pa.py_buffer(bytes(8 * n))  # a reader of the old one keeps it alive
        return pa.Array.from_buffers(pa.int64(), n, [None, buffer])


_ZEROS = _Zeros()


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([*batch.columns, _ZEROS.column(batch.num_rows)], schema=USER_RECORD_SCHEMA)


def unpack_batch(
    batch: pa.RecordBatch, *, deaggregate: bool = True, decompress: bool = True, hash_range=None, plain: bool = False
) -> pa.RecordBatch:
    """A RECORD_SCHEMA batch as user records: envelopes decompressed, KPL aggregates taken apart.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        Records in :data:`~shardstream.RECORD_SCHEMA` (slices are fine).
    deaggregate : bool
        Take KPL aggregates apart (one row per user record).
    decompress : bool
        Open compression envelopes.
    hash_range : tuple of (int, int), optional
        ``(starting, ending)`` hash key, inclusive: user records taken out of
        an aggregate whose effective hash key falls outside are dropped (the
        KCL's rule after a reshard).  Plain records are always kept.
    plain : bool
        The caller knows that no row is an aggregate or an envelope (a shard
        log's :attr:`~shardstream._native.ShardLog.packed_end` says so): the
        rows are not looked at.

    Returns
    -------
    pyarrow.RecordBatch
        In :data:`USER_RECORD_SCHEMA`: the batch's columns and ``sub_sequence_number``.

    Raises
    ------
    ImportError
        An envelope's codec module is not installed (the ``compression`` extra).

    Examples
    --------
    >>> import shardstream
    >>> from shardstream.aggregation import encode_aggregate
    >>> stream = shardstream.Engine().create_stream("s", shard_count=1)
    >>> _ = stream.put_record(encode_aggregate(["a", "b"], [b"1", b"2"]), "a")
    >>> _ = stream.put_record(b"plain", "c")
    >>> raw = stream.read_table(deaggregate=False).to_batches()[0]
    >>> user = unpack_batch(raw)
    >>> user.column("data").to_pylist(), user.column("sub_sequence_number").to_pylist()
    ([b'1', b'2', b'plain'], [0, 1, 0])
    """
    data = batch.column(_DATA)
    rows = _candidates(data, deaggregate, decompress) if (deaggregate or decompress) and not plain else ()
    if not len(rows):
        return _plain(batch)
    n = batch.num_rows
    counts = np.ones(n, np.int64)
    keys_column = batch.column(_KEY)
    new_keys: list = []
    new_data: list = []
    new_subs: list = []
    changed = False
    for row in rows.tolist():
        payload = data[row].as_py()
        single, records = _user_records(payload, deaggregate, decompress)
        if records is None:
            if single is payload:
                new_keys.append(keys_column[row].as_py())
                new_data.append(payload)
                new_subs.append(0)
                continue
            new_keys.append(keys_column[row].as_py())
            new_data.append(single)
            new_subs.append(0)
        else:
            kept = _in_range(records, hash_range)
            counts[row] = len(kept)
            for sub, key, user_data in kept:
                new_keys.append(key)
                new_data.append(user_data)
                new_subs.append(sub)
        changed = True
    if not changed:
        return _plain(batch)
    return _assemble(batch, rows, counts, new_keys, new_data, new_subs)


def _assemble(batch, rows, counts, new_keys, new_data, new_subs) -> pa.RecordBatch:
    """The output batch: unchanged rows taken from ``batch``, the rows of ``rows`` replaced by the new values."""
    n = batch.num_rows
    parent = np.repeat(np.arange(n, dtype=np.int64), counts)
    replaced_rows = np.zeros(n, bool)
    replaced_rows[rows] = True
    replaced = np.repeat(replaced_rows, counts)
    subs = np.zeros(len(parent), np.int64)
    subs[replaced] = new_subs
    take_all = pa.array(parent)
    take_unchanged = pa.array(parent, mask=replaced)  # nulls where replaced: the aggregate's blob is never copied
    mask = pa.array(replaced)
    columns = []
    for i, field in enumerate(RECORD_SCHEMA):
        column = batch.column(i)
        if i == _DATA:
            column = pc.replace_with_mask(column.take(take_unchanged), mask, pa.array(new_data, field.type))
        elif i == _KEY:
            column = pc.replace_with_mask(column.take(take_unchanged), mask, pa.array(new_keys, field.type))
        else:
            column = column.take(take_all)
        columns.append(column)
    columns.append(pa.array(subs))
    return pa.RecordBatch.from_arrays(columns, schema=USER_RECORD_SCHEMA)


def unpack_records(records: list[dict], *, deaggregate: bool = True, decompress: bool = True, hash_range=None):
    """GetRecords records (boto3 shape) as user records: envelopes decompressed, aggregates taken apart.

    Parameters
    ----------
    records : list of dict
        ``SequenceNumber``, ``Data`` (bytes), ``PartitionKey``, ... as
        boto3's ``get_records`` returns them.  Not changed.
    deaggregate, decompress, hash_range
        As for :func:`unpack_batch`.

    Returns
    -------
    list of dict
        New dicts: each record gains ``SubSequenceNumber`` (0 for a plain
        record); user records taken out of an aggregate carry their own
        ``PartitionKey`` and ``Data``, ``ExplicitHashKey`` when they have one,
        and ``Aggregated: True``.

    Raises
    ------
    ImportError
        An envelope's codec module is not installed (the ``compression`` extra).

    Examples
    --------
    >>> from shardstream.aggregation import encode_aggregate
    >>> page = [{"SequenceNumber": "1", "PartitionKey": "a", "Data": encode_aggregate(["a", "b"], [b"x", b"y"])}]
    >>> [(r["PartitionKey"], r["Data"], r["SubSequenceNumber"]) for r in unpack_records(page)]
    [('a', b'x', 0), ('b', b'y', 1)]
    """
    heads = set()
    if deaggregate:
        heads.add(MAGIC[0])
    if decompress:
        heads.add(ENVELOPE_MAGIC[0])
    out = []
    for record in records:
        data = record.get("Data")
        if not (isinstance(data, bytes) and len(data) >= _MIN_LENGTH and data[0] in heads):
            out.append({**record, "SubSequenceNumber": 0})
            continue
        single, inner = _user_records(data, deaggregate, decompress)
        if inner is None:
            out.append({**record, "Data": single, "SubSequenceNumber": 0})
            continue
        hash_keys = {i: hkey for i, (_, hkey, _) in enumerate(inner)}
        for sub, key, user_data in _in_range(inner, hash_range):
            user = {**record, "PartitionKey": key, "Data": user_data, "SubSequenceNumber": sub, "Aggregated": True}
            user.pop("ExplicitHashKey", None)
            if hash_keys[sub] is not None:
                user["ExplicitHashKey"] = hash_keys[sub]
            out.append(user)
    return out
