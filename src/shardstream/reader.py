"""Streams of Arrow record batches over shards.

``RecordBatchStream`` is what ``Stream.iter_batches`` returns: iterate it for
``pyarrow.RecordBatch`` objects, hand it to anything that speaks the Arrow
PyCapsule stream interface (``polars.DataFrame(s)``, ``duckdb.sql("... from
s")``, ``pyarrow.RecordBatchReader.from_stream(s)``), or collect it with
``read_all`` / ``read_pandas``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from .schema import RECORD_SCHEMA

__all__ = ["RecordBatchStream", "to_pandas"]


def to_pandas(table: pa.Table | pa.RecordBatch):
    """Convert to pandas with Arrow-backed dtypes (no per-row Python objects).

    ``sequence_number``, ``partition_key`` and ``data`` stay in Arrow memory
    (``pandas.ArrowDtype``), which is ~40x faster than object columns for
    millions of rows; ``shard_id`` becomes a dictionary-backed column.

    Parameters
    ----------
    table : pyarrow.Table or pyarrow.RecordBatch

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    return table.to_pandas(types_mapper=pd.ArrowDtype)


class RecordBatchStream:
    """A re-iterable stream of record batches in one schema (``RECORD_SCHEMA`` unless told).

    Parameters
    ----------
    make_batches : callable
        Returns a fresh iterator of ``pyarrow.RecordBatch`` each time it is called.
    schema : pyarrow.Schema
        The batches' schema (``shardstream.unpack.USER_RECORD_SCHEMA`` for user records).
    """

    def __init__(self, make_batches: Callable[[], Iterable[pa.RecordBatch]], schema: pa.Schema = RECORD_SCHEMA):
        self._make_batches = make_batches
        self.schema = schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return iter(self._make_batches())

    def to_reader(self) -> pa.RecordBatchReader:
        """A ``pyarrow.RecordBatchReader`` over the batches."""
        return pa.RecordBatchReader.from_batches(self.schema, iter(self))

    def __arrow_c_stream__(self, requested_schema=None):
        """Export as an Arrow C stream (the PyCapsule interface)."""
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def read_all(self) -> pa.Table:
        """All batches as one ``pyarrow.Table``."""
        return pa.Table.from_batches(list(self), schema=self.schema)

    def read_pandas(self):
        """All batches as a pandas DataFrame with Arrow-backed dtypes."""
        return to_pandas(self.read_all())
