"""``RemoteStream``: the :class:`~shardstream.Stream` API of one stream behind a ``RemoteEngine``.

Calls go through the engine's ``call`` (one botocore client); reads are
turned into Arrow batches in the embedded engine's ``RECORD_SCHEMA``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .columns import as_key_array, as_payload_array
from .errors import DryRunOperationException, ProvisionedThroughputExceededException
from .reader import RecordBatchStream, to_pandas
from .schema import RECORD_SCHEMA
from .unpack import USER_RECORD_SCHEMA, unpack_batch

__all__ = ["IteratorShards", "RemoteStream", "dry_run_member", "records_to_batch"]

_PUT_RECORDS_MAX = 500
_PUT_RECORDS_BYTES = 5 * 1024 * 1024


def dry_run_member(dry_run: bool) -> dict:
    """The ``DryRun`` member of a request: ``{"DryRun": True}`` when set, else ``{}`` (not sent).

    Parameters
    ----------
    dry_run : bool

    Returns
    -------
    dict
    """
    return {"DryRun": True} if dry_run else {}


class RemoteStream:
    """The :class:`Stream` API of the stream called ``name`` behind ``engine``, a :class:`RemoteEngine`.

    Parameters
    ----------
    engine : RemoteEngine
        Sends the calls (its ``call``).
    name : str
        The stream's name.
    """

    def __init__(self, engine, name: str):
        self._engine = engine
        self.name = name
        self._iterator_shards = IteratorShards()

    def _call(self, operation: str, params: dict) -> dict:
        return self._engine.call(operation, {"StreamName": self.name, **params})

    def wait_active(self, timeout: float = 60.0) -> None:
        """Poll DescribeStreamSummary until the stream is ACTIVE (TimeoutError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        pause = 0.02  # doubling up to 1 s: a local server is ACTIVE at once, AWS takes seconds
        while self.describe_summary()["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {self.name} not ACTIVE after {timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def describe(self, limit=None, exclusive_start_shard_id=None) -> dict:
        """As :meth:`~shardstream.Stream.describe` (``limit``, ``exclusive_start_shard_id``), remotely."""
        return self._engine.describe_stream(self.name, limit, exclusive_start_shard_id)

    def describe_summary(self) -> dict:
        """As :meth:`~shardstream.Stream.describe_summary`, over the Kinesis API of the server."""
        return self._call("DescribeStreamSummary", {})

    def _shard_ids(self) -> list[str]:
        ids, token = [], None
        while True:
            page = self._engine.call("ListShards", {"NextToken": token} if token else {"StreamName": self.name})
            ids += [s["ShardId"] for s in page["Shards"]]
            token = page.get("NextToken")
            if not token:
                return ids

    # -- writes ---------------------------------------------------------------------------

    def list_shards(self, shard_filter: dict | None = None) -> list[dict]:
        """Every listed shard passing ``shard_filter`` (ListShards, following NextToken)."""
        page = self._engine.list_shards(self.name, shard_filter=shard_filter)
        shards = list(page["Shards"])
        while page.get("NextToken"):
            page = self._engine.list_shards(next_token=page["NextToken"])
            shards.extend(page["Shards"])
        return shards

    def put_record(
        self, data, partition_key=None, explicit_hash_key=None, sequence_number_for_ordering=None, *, dry_run=False
    ) -> dict:
        """As :meth:`~shardstream.Stream.put_record`, over the Kinesis API of the server.

        Parameters
        ----------
        data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run
            As for :meth:`Stream.put_record`.
        """
        return self._call(
            "PutRecord",
            {
                "Data": data,
                "PartitionKey": partition_key,
                "ExplicitHashKey": explicit_hash_key,
                "SequenceNumberForOrdering": sequence_number_for_ordering,
                **dry_run_member(dry_run),
            },
        )

    def put_records(self, records, *, dry_run: bool = False) -> dict:
        """As :meth:`~shardstream.Stream.put_records` (``records``, ``dry_run``), remotely."""
        return self._call("PutRecords", {"Records": records, **dry_run_member(dry_run)})

    def put_batch(
        self, partition_keys, data, explicit_hash_keys=None, *, retries: int = 5, dry_run: bool = False
    ) -> pa.Table:
        """put_batch over PutRecords requests of up to 500 records / 5 MiB.

        Unlike the embedded path this is not atomic: requests land one by one.

        Parameters
        ----------
        partition_keys, data, explicit_hash_keys
            As for :meth:`Stream.put_batch` (None keys send keyless records, for AUTO streams).
        retries : int
            How many times failed entries (throttled, internal failures) are
            sent again, with exponential backoff and full jitter.  Whole calls
            are retried by botocore besides (``connect(url, retries=...)``).
        dry_run : bool
            Send every request as a dry run: the first error other than
            DryRunOperationException is raised, else DryRunOperationException.

        Returns
        -------
        pyarrow.Table
            ``shard_id`` and ``sequence_number`` of each input row, in input order.

        Raises
        ------
        ProvisionedThroughputExceededException
            Entries still throttled after ``retries`` retries (the others are written).
        """
        entries, sizes = _request_entries(partition_keys, data, explicit_hash_keys)
        if dry_run:
            for chunk in _chunks(range(len(entries)), sizes):
                try:
                    self._put_entries([entries[i] for i in chunk], dry_run=True)
                except DryRunOperationException:
                    continue
            raise DryRunOperationException()
        shard_ids: list = [None] * len(entries)
        seqs: list = [None] * len(entries)
        pending = list(range(len(entries)))
        for attempt in range(retries + 1):
            failed = []
            for chunk in _chunks(pending, sizes):
                result = self._put_entries([entries[i] for i in chunk])
                for i, entry in zip(chunk, result["Records"]):
                    if "SequenceNumber" in entry:
                        shard_ids[i], seqs[i] = entry["ShardId"], entry["SequenceNumber"]
                    else:
                        failed.append(i)
            if not failed:
                break
            if attempt == retries:
                raise ProvisionedThroughputExceededException(
                    f"{len(failed)} of {len(entries)} records were throttled after {retries} retries"
                )
            pending = failed
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # full jitter
        return pa.table(
            {
                "shard_id": pa.array(shard_ids, pa.string()).dictionary_encode(),
                "sequence_number": pa.array(seqs, pa.string()),
            }
        )

    def _put_entries(self, entries: list[dict], dry_run: bool = False) -> dict:
        """PutRecords of ready entries (no None members: sent as they are)."""
        params = {"StreamName": self.name, "Records": entries, **dry_run_member(dry_run)}
        return self._engine.call("PutRecords", params, drop_none=False)

    # -- reads ------------------------------------------------------------------------------

    def get_shard_iterator(
        self, shard_id, shard_iterator_type, starting_sequence_number=None, timestamp=None, *, dry_run=False
    ):
        """As :meth:`~shardstream.Stream.get_shard_iterator`, over the Kinesis API of the server.

        Parameters
        ----------
        shard_id, shard_iterator_type, starting_sequence_number, timestamp, dry_run
            As for :meth:`Stream.get_shard_iterator`.
        """
        answer = self._call(
            "GetShardIterator",
            {
                "ShardId": shard_id,
                "ShardIteratorType": shard_iterator_type,
                "StartingSequenceNumber": starting_sequence_number,
                "Timestamp": timestamp,
                **dry_run_member(dry_run),
            },
        )
        self._iterator_shards.remember(answer.get("ShardIterator"), shard_id)
        return answer

    def get_records(self, shard_iterator, limit=None, *, dry_run=False) -> dict:
        """As :meth:`~shardstream.Stream.get_records` (``shard_iterator``, ``limit``, ``dry_run``), remotely."""
        page = self._engine.get_records(shard_iterator, limit, dry_run=dry_run)
        self._iterator_shards.follow(shard_iterator, page.get("NextShardIterator"))
        return page

    def get_record_batch(self, shard_iterator, limit=None, *, deaggregate=True) -> dict:
        """As :meth:`~shardstream.Stream.get_record_batch`, remotely.

        The ``shard_id`` column names the shard the iterator was made for (by
        this handle's :meth:`get_shard_iterator`, or followed from one of its
        pages); for an iterator from elsewhere, the shard a shardstream or AWS
        sequence number names.

        Parameters
        ----------
        shard_iterator, limit, deaggregate
            As for :meth:`Stream.get_record_batch`.

        Returns
        -------
        dict
            The GetRecords page with ``Records`` as a RecordBatch (USER_RECORD_SCHEMA
            by default, RECORD_SCHEMA with ``deaggregate=False``).
        """
        shard_id = self._iterator_shards.shard_of(shard_iterator)
        page = self.get_records(shard_iterator, limit)
        if shard_id is None:
            shard_id = _shard_of(page)
        batch = records_to_batch(page["Records"], shard_id)
        return {**page, "Records": unpack_batch(batch) if deaggregate else batch}

    def iter_batches(
        self,
        shard_ids=None,
        iterator_type="TRIM_HORIZON",
        timestamp=None,
        batch_size: int = 10_000,
        *,
        deaggregate=True,
    ) -> RecordBatchStream:
        """Every shard's records (parents first) up to the tip at the time of reading, as Arrow batches.

        Parameters
        ----------
        shard_ids : list of str, optional
            Only these shards, in this order (default: every shard ListShards gives).
        iterator_type : str
            Where each shard's read starts (a GetShardIterator type without a sequence number).
        timestamp : datetime or float, optional
            For ``AT_TIMESTAMP``.
        batch_size : int
            Most records per GetRecords call (and so per batch), at most 10,000.
        deaggregate : bool
            As for :meth:`Stream.iter_batches <shardstream.Stream.iter_batches>`: user records
            (USER_RECORD_SCHEMA) by default, the records as stored with False.

        Returns
        -------
        RecordBatchStream
        """
        ids = list(shard_ids) if shard_ids is not None else self._shard_ids()

        def batches():
            for shard_id in ids:
                it = self.get_shard_iterator(shard_id, iterator_type, timestamp=timestamp)["ShardIterator"]
                while it:
                    page = self.get_records(it, min(batch_size, 10_000))
                    if page["Records"]:
                        batch = records_to_batch(page["Records"], shard_id)
                        yield unpack_batch(batch) if deaggregate else batch
                    elif page.get("MillisBehindLatest", 0) == 0:
                        break  # caught up with this shard
                    it = page.get("NextShardIterator")

        return RecordBatchStream(batches, USER_RECORD_SCHEMA if deaggregate else RECORD_SCHEMA)

    def read_table(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, *, deaggregate=True) -> pa.Table:
        """As :meth:`~shardstream.Stream.read_table`, remotely.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, deaggregate
            As for :meth:`iter_batches`.
        """
        return self.iter_batches(shard_ids, iterator_type, timestamp, deaggregate=deaggregate).read_all()

    def read_pandas(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, *, deaggregate=True):
        """As :meth:`~shardstream.Stream.read_pandas`, remotely.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, deaggregate
            As for :meth:`iter_batches`.
        """
        return to_pandas(self.read_table(shard_ids, iterator_type, timestamp, deaggregate=deaggregate))

    # -- control plane on this stream -------------------------------------------------------

    def split_shard(self, shard_to_split, new_starting_hash_key) -> dict:
        """As :meth:`~shardstream.Stream.split_shard` (``shard_to_split``, ``new_starting_hash_key``), remotely."""
        return self._call(
            "SplitShard", {"ShardToSplit": shard_to_split, "NewStartingHashKey": str(new_starting_hash_key)}
        )

    def merge_shards(self, shard_to_merge, adjacent_shard_to_merge) -> dict:
        """As :meth:`~shardstream.Stream.merge_shards` (``shard_to_merge``, ``adjacent_shard_to_merge``), remotely."""
        return self._call(
            "MergeShards", {"ShardToMerge": shard_to_merge, "AdjacentShardToMerge": adjacent_shard_to_merge}
        )

    def update_record_distribution_strategy(self, record_distribution_strategy) -> dict:
        """UpdateStreamRecordDistributionStrategy (``record_distribution_strategy``) on this stream; ``{}``."""
        arn = self.describe_summary()["StreamDescriptionSummary"]["StreamARN"]
        return self._engine.update_stream_record_distribution_strategy(arn, record_distribution_strategy)

    def update_shard_count(self, target_shard_count, scaling_type="UNIFORM_SCALING") -> dict:
        """As :meth:`~shardstream.Stream.update_shard_count` (``target_shard_count``, ``scaling_type``), remotely."""
        return self._call("UpdateShardCount", {"TargetShardCount": target_shard_count, "ScalingType": scaling_type})

    def increase_stream_retention_period(self, retention_period_hours) -> dict:
        """As :meth:`~shardstream.Stream.increase_stream_retention_period` (``retention_period_hours``), remotely."""
        return self._call("IncreaseStreamRetentionPeriod", {"RetentionPeriodHours": retention_period_hours})

    def decrease_stream_retention_period(self, retention_period_hours) -> dict:
        """As :meth:`~shardstream.Stream.decrease_stream_retention_period` (``retention_period_hours``), remotely."""
        return self._call("DecreaseStreamRetentionPeriod", {"RetentionPeriodHours": retention_period_hours})

    def add_tags_to_stream(self, tags: dict) -> dict:
        """As :meth:`~shardstream.Stream.add_tags_to_stream` (``tags``), remotely."""
        return self._call("AddTagsToStream", {"Tags": tags})

    def remove_tags_from_stream(self, tag_keys) -> dict:
        """As :meth:`~shardstream.Stream.remove_tags_from_stream` (``tag_keys``), remotely."""
        return self._call("RemoveTagsFromStream", {"TagKeys": list(tag_keys)})

    def list_tags_for_stream(self, exclusive_start_tag_key=None, limit=None) -> dict:
        """As :meth:`~shardstream.Stream.list_tags_for_stream` (``exclusive_start_tag_key``, ``limit``), remotely."""
        return self._call("ListTagsForStream", {"ExclusiveStartTagKey": exclusive_start_tag_key, "Limit": limit})

    def __repr__(self) -> str:
        return f"<RemoteStream {self.name!r} at {self._engine.url}>"


class IteratorShards:
    """Which shard each recent shard iterator reads: the newest ``size`` iterators, thread-safe.

    Shard iterators are opaque; a remote stream remembers the shard of those
    it got, and of the ``NextShardIterator`` of each page read with one.

    Parameters
    ----------
    size : int
        Most iterators remembered (the oldest are forgotten first).
    """

    def __init__(self, size: int = 4096):
        self._size = size
        self._shards: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, iterator: str | None, shard_id: str) -> None:
        """Note that ``iterator`` reads ``shard_id`` (None: nothing to note).

        Parameters
        ----------
        iterator : str or None
        shard_id : str
        """
        if iterator is None:
            return
        with self._lock:
            self._shards[iterator] = shard_id
            self._shards.move_to_end(iterator)
            while len(self._shards) > self._size:
                self._shards.popitem(last=False)

    def follow(self, iterator: str, next_iterator: str | None) -> None:
        """``next_iterator`` reads the shard ``iterator`` reads (if that one is known).

        Parameters
        ----------
        iterator : str
        next_iterator : str or None
        """
        shard_id = self.shard_of(iterator)
        if shard_id is not None:
            self.remember(next_iterator, shard_id)

    def shard_of(self, iterator: str) -> str | None:
        """The shard ``iterator`` reads, or None if it is not remembered.

        Parameters
        ----------
        iterator : str

        Returns
        -------
        str or None
        """
        with self._lock:
            return self._shards.get(iterator)


def _shard_of(page: dict) -> str | None:
    """The shard a GetRecords page's records come from (None for an empty page)."""
    records = page.get("Records") or []
    if not records:
        return None
    from .sequence import parse_sequence_number

    parsed = parse_sequence_number(records[0]["SequenceNumber"])
    return parsed.shard_id if parsed else None


def _request_entries(partition_keys, data, explicit_hash_keys) -> tuple[list[dict], list[int]]:
    """PutRecords entries for put_batch's rows, and each row's size toward the 5 MiB request limit."""
    payload_array = as_payload_array(data)
    payloads = payload_array.to_pylist()
    sizes = pc.binary_length(payload_array)
    if partition_keys is None:
        entries = [{"Data": d} for d in payloads]
    else:
        key_array = as_key_array(partition_keys)
        entries = [{"Data": d, "PartitionKey": k} for d, k in zip(payloads, key_array.to_pylist())]
        sizes = pc.add(sizes, pc.binary_length(key_array).fill_null(0))
    if explicit_hash_keys is not None:
        for entry, ehk in zip(entries, explicit_hash_keys):
            if ehk is not None:
                entry["ExplicitHashKey"] = str(ehk)
    return entries, sizes.fill_null(0).to_pylist()


def _chunks(indexes, sizes: list[int]) -> Iterator[list[int]]:
    """``indexes`` cut into PutRecords requests of at most 500 entries and 5 MiB."""
    chunk, size = [], 0
    for i in indexes:
        n = sizes[i]
        if chunk and (len(chunk) == _PUT_RECORDS_MAX or size + n > _PUT_RECORDS_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += n
    if chunk:
        yield chunk


def records_to_batch(records: list[dict], shard_id: str | None) -> pa.RecordBatch:
    """GetRecords' records (boto3 shape) as a RecordBatch in ``RECORD_SCHEMA``.

    Parameters
    ----------
    records : list of dict
        ``SequenceNumber``, ``PartitionKey``, ``Data`` (bytes) and
        ``ApproximateArrivalTimestamp`` (datetime) each.
    shard_id : str or None
        The shard they come from.

    Returns
    -------
    pyarrow.RecordBatch
    """
    n = len(records)
    if n == 0:
        return pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)
    shard = pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array([shard_id or ""], pa.string()))
    columns = [
        shard,
        pa.array([r["SequenceNumber"] for r in records], pa.string()),
        pa.array([r["PartitionKey"] for r in records], pa.string()),
        pa.array([r["Data"] for r in records], pa.binary()),
        pa.array([r["ApproximateArrivalTimestamp"] for r in records], pa.timestamp("ms", tz="UTC")),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA)
