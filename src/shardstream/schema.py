"""The one Arrow schema of record batches that shardstream returns.

Columns (schema version 1):

``shard_id``                       dictionary<int32, string>: the shard the record is in
``sequence_number``                string: 56-digit Kinesis-style sequence number
``partition_key``                  string
``data``                           binary: the payload
``approximate_arrival_timestamp``  timestamp[ms, UTC]

Each batch holds records of one shard, so its ``shard_id`` dictionary has a
single entry; pandas reads the column as a categorical, polars and DuckDB as
categorical/enum-like strings.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["RECORD_SCHEMA", "SCHEMA_VERSION", "SHARD_ID_TYPE", "empty_batch", "empty_table"]

SCHEMA_VERSION = 1
SHARD_ID_TYPE = pa.dictionary(pa.int32(), pa.string())

RECORD_SCHEMA = pa.schema(
    [
        pa.field("shard_id", SHARD_ID_TYPE, nullable=False),
        pa.field("sequence_number", pa.string(), nullable=False),
        pa.field("partition_key", pa.string(), nullable=False),
        pa.field("data", pa.binary(), nullable=False),
        pa.field("approximate_arrival_timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
    ],
    metadata={"shardstream.schema_version": str(SCHEMA_VERSION)},
)


def empty_batch(schema: pa.Schema = RECORD_SCHEMA) -> pa.RecordBatch:
    """A batch of ``schema`` with no rows, made without importing pandas (``pa.array`` and ``empty_table`` do).

    Parameters
    ----------
    schema : pyarrow.Schema
    """
    return pa.RecordBatch.from_arrays([pa.nulls(0, field.type) for field in schema], schema=schema)


def empty_table() -> pa.Table:
    """A table with RECORD_SCHEMA and no rows."""
    return RECORD_SCHEMA.empty_table()
