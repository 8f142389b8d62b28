"""GetRecords entries from Arrow: the one place records become boto3-shaped dicts.

The core reads a shard into a RECORD_SCHEMA record batch (see
:mod:`shardstream.schema`) under the shard's lock; :func:`format_records`
turns such a batch into GetRecords' ``Records`` afterwards, with no lock held.
Streams kept in memory and on disk share it, so both give the same entries.
"""

from __future__ import annotations

import pyarrow as pa

from ._native import records_dicts

__all__ = ["format_records"]


def format_records(batch: pa.RecordBatch | None, *, wire: bool) -> list[dict]:
    """GetRecords entries of a RECORD_SCHEMA batch, in order.

    Parameters
    ----------
    batch : pyarrow.RecordBatch or None
        Records in RECORD_SCHEMA (slices are fine); None reads as no records.
    wire : bool
        False: boto3's shape, ``Data`` as bytes and ``ApproximateArrivalTimestamp``
        as a UTC :class:`datetime.datetime`.  True: Kinesis's JSON protocol,
        ``Data`` as padded base64 text and ``ApproximateArrivalTimestamp`` as
        epoch seconds (a float).

    Returns
    -------
    list of dict
        ``{"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"}``
        per record.

    Raises
    ------
    ValueError
        The batch lacks a RECORD_SCHEMA column, or one has nulls.

    Examples
    --------
    >>> import datetime
    >>> from shardstream.schema import RECORD_SCHEMA
    >>> batch = pa.RecordBatch.from_pydict(
    ...     {
    ...         "shard_id": ["shardId-000000000000"],
    ...         "sequence_number": ["4" * 56],
    ...         "partition_key": ["k"],
    ...         "data": [b"hi"],
    ...         "approximate_arrival_timestamp": [datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)],
    ...     },
    ...     schema=RECORD_SCHEMA,
    ... )
    >>> format_records(batch, wire=True)[0]["Data"], format_records(batch, wire=True)[0]["ApproximateArrivalTimestamp"]
    ('aGk=', 1704067200.0)
    >>> format_records(batch, wire=False)[0]["Data"]
    b'hi'
    """
    if batch is None:
        return []
    return records_dicts(batch, wire)
