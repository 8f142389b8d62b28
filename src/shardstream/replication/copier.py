"""Copying one source shard's records into its target shard, in order, exactly once.

The target shard is written only by the replicator (a standby refuses
everyone else's writes: :mod:`shardstream.replication.standby`), in source
order, so it holds a prefix of the source shard's records from the
checkpoint's ``start`` (saved before the first write; the source's trim
horizon when none was saved).  That makes the target itself the record of what was
applied, atomically with the records:

1. **resync** (on start, and after any write whose outcome is unknown: a
   time-out, a dropped connection, a partially failed PutRecords): read the
   target shard after the checkpoint's target position and count the records
   there, ``k``; the next ``k`` source records after the checkpoint's source
   position are already applied (their partition keys and data are compared,
   a mismatch raises :class:`ReplicationForkError`).  Continue after them.
2. **copy**: GetRecords from the source position, PutRecords of those records
   (partition keys and data as they are, ``ExplicitHashKey`` of the target
   shard), then advance the position in memory; the checkpoint file is
   written from it once a second.

A replicator killed at any moment therefore resumes without losing or
repeating a record.
"""

from __future__ import annotations

import logging

from ..errors import KinesisError
from .checkpoint import CheckpointFile, ShardPosition
from .standby import PromotedException

__all__ = ["MAX_PUT_BYTES", "MAX_PUT_RECORDS", "ReplicationForkError", "Retry", "ShardCopier"]

log = logging.getLogger("shardstream.replication")

MAX_PUT_RECORDS = 500
MAX_PUT_BYTES = 4 * 1024 * 1024
_SCAN_PAGE = 10_000


class ReplicationForkError(RuntimeError):
    """The target shard holds records that are not the source's next ones: someone else wrote it."""


def _ms(record: dict) -> int:
    return int(record["ApproximateArrivalTimestamp"].timestamp() * 1000)


class ShardCopier:
    """Copies one source shard into one target shard.

    Parameters
    ----------
    stream_name : str
    shard_id : str
        The source shard.
    source_stream, target_stream
        Stream handles (embedded or remote).
    target_shard : dict
        The target shard (boto3 ``Shard`` dict): its first hash key routes the records.
    checkpoint : CheckpointFile
    page_limit : int
        Records per GetRecords of the source.
    """

    def __init__(self, stream_name, shard_id, source_stream, target_stream, target_shard, checkpoint, page_limit=1000):
        self.stream_name = stream_name
        self.shard_id = shard_id
        self._source = source_stream
        self._target = target_stream
        self.target_shard_id = target_shard["ShardId"]
        self._hash_key = target_shard["HashKeyRange"]["StartingHashKey"]
        self._checkpoint: CheckpointFile = checkpoint
        self._limit = page_limit
        self.position: ShardPosition = checkpoint.get(stream_name, shard_id)
        self.position.target_shard = self.target_shard_id
        self._iterator: str | None = None
        self._synced = False
        self.applied = 0
        self.caught_up = False

    @property
    def done(self) -> bool:
        """The source shard is closed and all of it is on the target."""
        return self.position.done

    def invalidate(self) -> None:
        """Forget the source iterator (a failed read, an expired iterator): the next step resyncs first."""
        self._synced = False

    def _source_iterator(self) -> str:
        p = self.position
        if p.source is not None:
            args = ("AFTER_SEQUENCE_NUMBER", p.source)
        elif p.start is not None:
            args = ("AT_SEQUENCE_NUMBER", p.start)
        else:
            args = ("TRIM_HORIZON", None)
        return self._source.get_shard_iterator(self.shard_id, *args)["ShardIterator"]

    def _save(self, durable: bool = False) -> None:
        self._checkpoint.set(self.stream_name, self.shard_id, self.position)
        if durable:
            self._checkpoint.save()

    def resync(self) -> int:
        """Find what the target already holds beyond the checkpoint and move past it; how many records that was.

        Raises
        ------
        ReplicationForkError
            The target's records are not the source's next ones.
        """
        p = self.position
        if p.target is not None:
            it = self._target.get_shard_iterator(self.target_shard_id, "AFTER_SEQUENCE_NUMBER", p.target)
        else:
            it = self._target.get_shard_iterator(self.target_shard_id, "TRIM_HORIZON")
        it = it["ShardIterator"]
        extra: list[dict] = []
        while it is not None:
            page = self._target.get_records(it, _SCAN_PAGE)
            extra += page["Records"]
            it = page.get("NextShardIterator")
            if not page["Records"] and not page.get("MillisBehindLatest"):
                break
        if extra:
            seen = self._read_source(len(extra))
            for got, want in zip(extra, seen, strict=True):
                if got["PartitionKey"] != want["PartitionKey"] or bytes(got["Data"]) != bytes(want["Data"]):
                    raise ReplicationForkError(
                        f"{self.stream_name}: target shard {self.target_shard_id} has {got['SequenceNumber']}, "
                        f"which is not source record {want['SequenceNumber']} of {self.shard_id}"
                    )
            p.source, p.target = seen[-1]["SequenceNumber"], extra[-1]["SequenceNumber"]
            log.info("%s/%s: %d records were already on the target", self.stream_name, self.shard_id, len(extra))
            self._save(durable=True)
        self._iterator = self._source_iterator()
        self._synced = True
        return len(extra)

    def _read_source(self, n: int) -> list[dict]:
        it, got = self._source_iterator(), []
        while len(got) < n:
            if it is None:
                raise ReplicationForkError(
                    f"{self.stream_name}: target shard {self.target_shard_id} holds more records than source "
                    f"shard {self.shard_id}"
                )
            page = self._source.get_records(it, min(_SCAN_PAGE, n - len(got)))
            got += page["Records"]
            it = page.get("NextShardIterator")
            if not page["Records"] and not page.get("MillisBehindLatest") and len(got) < n:
                it = None  # at the source's tip: the target holds records the source does not
        return got[:n]

    def step(self) -> int:
        """Copy one page of source records; how many were applied (0: caught up, or the shard is done)."""
        if self.done:
            return 0
        if not self._synced:
            self.resync()
        page = self._source.get_records(self._iterator, self._limit)
        records = page["Records"]
        self.caught_up = not records and not page.get("MillisBehindLatest")
        if records and self.position.start is None and self.position.source is None:
            self.position.start = records[0]["SequenceNumber"]
            self._save(durable=True)  # before the first write: resync then knows where the target began
        applied = 0
        try:
            for chunk in _chunks(records):
                applied += self._put(chunk)
        except PromotedException:
            raise
        except (KinesisError, ConnectionError, OSError) as exc:
            self._synced = False  # the outcome of the last put is unknown: count what landed before going on
            raise Retry(str(exc)) from exc
        if page.get("NextShardIterator") is None:
            self.position.done = True
            self._save(durable=True)
            log.info("%s/%s: closed and fully replicated", self.stream_name, self.shard_id)
        else:
            self._iterator = page["NextShardIterator"]
        return applied

    def _put(self, chunk: list[dict]) -> int:
        entries = [
            {"Data": r["Data"], "PartitionKey": r["PartitionKey"], "ExplicitHashKey": self._hash_key} for r in chunk
        ]
        answer = self._target.put_records(entries)
        if answer.get("FailedRecordCount"):
            self._synced = False
            raise Retry(f"{answer['FailedRecordCount']} of {len(entries)} records not written")
        self.position.source = chunk[-1]["SequenceNumber"]
        self.position.target = answer["Records"][-1]["SequenceNumber"]
        self._save()
        self.applied += len(chunk)
        return len(chunk)

    def lag(self, now_ms: int, cap: int = 100_000) -> tuple[int, int]:
        """``(records, milliseconds)`` behind: source records not yet on the target, and the oldest one's age.

        Parameters
        ----------
        now_ms : int
            The time the age is measured at.
        cap : int
            Count at most this many (a larger backlog reports ``cap``).
        """
        if self.done:
            return 0, 0
        it, count, oldest = self._source_iterator(), 0, None
        while it is not None and count < cap:
            page = self._source.get_records(it, min(_SCAN_PAGE, cap - count))
            if page["Records"] and oldest is None:
                oldest = _ms(page["Records"][0])
            count += len(page["Records"])
            it = page.get("NextShardIterator")
            if not page["Records"] and not page.get("MillisBehindLatest"):
                break
        return count, 0 if oldest is None else max(0, now_ms - oldest)


class Retry(Exception):
    """A write whose outcome is unknown: resync, then go on."""


def _chunks(records: list[dict]):
    chunk, size = [], 0
    for r in records:
        n = len(r["Data"]) + len(r["PartitionKey"])
        if chunk and (len(chunk) == MAX_PUT_RECORDS or size + n > MAX_PUT_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(r)
        size += n
    if chunk:
        yield chunk
