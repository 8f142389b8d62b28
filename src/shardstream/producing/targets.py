"""One PutRecords call on a producer's stream, answered per entry.

* :class:`PutRecordsTarget`: any stream with ``put_records`` (a remote stream from
  ``shardstream.connect(url).stream(name)``, or an embedded one): boto3's entries, per-entry ``ErrorCode``.
* :class:`BatchTarget`: an embedded :class:`~shardstream.Stream`, written through ``put_batch``, the core's
  vectorised path that releases the GIL.  ``put_batch`` is all or nothing: when a shard has no room (or no
  throughput budget, with ``throughput_limits``) it raises ``ProvisionedThroughputExceededException`` and
  writes nothing, and the same entries go through ``put_records``, which writes those that fit and answers
  the others one by one.

An answer is, per entry in call order, ``(shard_id, sequence_number)`` or the exception the entry failed with.
"""

from __future__ import annotations

from ..errors import ProvisionedThroughputExceededException, error_for
from ..puts import put_result_lists
from ..stream import Stream

__all__ = ["BatchTarget", "PutRecordsTarget", "target_for"]

#: Kinesis's record limit when the stream cannot tell (a remote stream).
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024


class PutRecordsTarget:
    """A stream written with PutRecords calls.

    Parameters
    ----------
    stream : RemoteStream or Stream
        Anything with ``put_records(records)`` and ``list_shards()`` (and a ``name``).
    """

    def __init__(self, stream):
        self.stream = stream
        self.name = getattr(stream, "name", "?")
        self.max_record_bytes = getattr(stream, "max_record_bytes", DEFAULT_MAX_RECORD_BYTES)

    def list_shards(self) -> list[dict]:
        """The stream's shards (boto3 ``Shard`` dicts)."""
        return self.stream.list_shards()

    def put(self, entries) -> list:
        """Write ``entries`` (:class:`~shardstream.producing.records.KinesisRecord`) in one PutRecords call.

        Parameters
        ----------
        entries : list of KinesisRecord

        Returns
        -------
        list
            Per entry ``(shard_id, sequence_number)`` or the :class:`~shardstream.errors.KinesisError` it
            failed with (its ``ErrorCode`` and ``ErrorMessage``).

        Raises
        ------
        Exception
            Whatever failed the whole call (a missing stream, a connection error...).
        """
        records = []
        for e in entries:
            entry = {"Data": e.data, "PartitionKey": e.partition_key}
            if e.explicit_hash_key is not None:
                entry["ExplicitHashKey"] = e.explicit_hash_key
            records.append(entry)
        answer = self.stream.put_records(records)
        if not answer.get("FailedRecordCount"):
            return [(r["ShardId"], r["SequenceNumber"]) for r in answer["Records"]]
        return [
            (r["ShardId"], r["SequenceNumber"])
            if "SequenceNumber" in r
            else error_for(r.get("ErrorCode") or "InternalFailure", r.get("ErrorMessage") or "")
            for r in answer["Records"]
        ]


class BatchTarget:
    """An embedded stream written with ``put_batch``, falling back to ``put_records`` when it is refused.

    Parameters
    ----------
    stream : Stream
        An embedded (in-memory or durable) stream.
    """

    def __init__(self, stream):
        self.stream = stream
        self.name = stream.name
        self.max_record_bytes = stream.max_record_bytes
        self._entries = PutRecordsTarget(stream)

    def list_shards(self) -> list[dict]:
        """The stream's shards (boto3 ``Shard`` dicts)."""
        return self.stream.list_shards()

    def put(self, entries) -> list:
        """Write ``entries`` with one ``put_batch`` (or, when that is throttled, one ``put_records``).

        Parameters
        ----------
        entries : list of KinesisRecord

        Returns
        -------
        list
            Per entry ``(shard_id, sequence_number)`` or the exception it failed with.

        Raises
        ------
        Exception
            Whatever failed the whole call (a missing stream, a storage error...).
        """
        keys = [e.partition_key for e in entries]
        payloads = [e.data for e in entries]
        hash_keys = [e.explicit_hash_key for e in entries]
        if all(h is None for h in hash_keys):
            hash_keys = None
        try:
            table = self.stream.put_batch(keys, payloads, hash_keys)
        except ProvisionedThroughputExceededException:
            return self._entries.put(entries)
        shard_ids, seqs = put_result_lists(table)
        return list(zip(shard_ids, seqs))


def target_for(target, engine=None):
    """The target that writes to ``target`` (a stream, or a stream name on ``engine``).

    Parameters
    ----------
    target : Stream, RemoteStream or str
        An embedded stream (written through ``put_batch``), a stream with ``put_records``, or a stream name.
    engine : Engine or RemoteEngine, optional
        What a stream name is looked up on (``engine.stream(name)``).

    Returns
    -------
    BatchTarget or PutRecordsTarget

    Raises
    ------
    TypeError
        A name without an engine, or an object that is not a stream.
    """
    if isinstance(target, str):
        if engine is None:
            raise TypeError("a stream name needs engine=: Producer('name', engine=shardstream.connect(url))")
        target = engine.stream(target)
    elif engine is not None:
        raise TypeError("engine= is for a stream name; pass either a stream or a name with its engine")
    if isinstance(target, Stream):
        return BatchTarget(target)
    if callable(getattr(target, "put_records", None)) and callable(getattr(target, "list_shards", None)):
        return PutRecordsTarget(target)
    raise TypeError(f"target must be a Stream, a remote stream or a stream name, not {type(target).__name__}")
