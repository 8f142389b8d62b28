"""``shardstream.connect``: the same Engine and Stream API, embedded or over HTTP.

``connect("memory://")`` gives a new embedded :class:`~shardstream.Engine`.
``connect("http://127.0.0.1:4567")`` gives a :class:`RemoteEngine` that speaks
the Kinesis JSON protocol to a ``shardstream serve`` server (or to anything
that speaks Kinesis), so application code and tests run unchanged against
either, and several processes can share one stream through a server.

Remote calls return the same shapes and raise the same exceptions as the
embedded engine (errors are rebuilt from the server's ``__type`` and
``message``).  Requests are signed with SigV4 using the given keys, else
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, else dummy keys (which a
default ``shardstream serve`` accepts, as local emulators do).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow as pa

from .columns import as_key_array, as_payload_array
from .engine import Engine
from .errors import (
    DryRunOperationException,
    InternalFailureException,
    ProvisionedThroughputExceededException,
    error_for,
)
from .reader import RecordBatchStream, to_pandas
from .schema import RECORD_SCHEMA
from .unpack import USER_RECORD_SCHEMA, unpack_batch

__all__ = ["RemoteEngine", "RemoteStream", "connect"]

_TARGET = "Kinesis_20131202."
_CONTENT_TYPE = "application/x-amz-json-1.1"
_PUT_RECORDS_MAX = 500
_PUT_RECORDS_BYTES = 5 * 1024 * 1024


def _dry(dry_run: bool) -> dict:
    """The ``DryRun`` member of a request: sent only when set."""
    return {"DryRun": True} if dry_run else {}


def connect(url: str = "memory://", **engine_kwargs):
    """An engine behind ``url``: ``memory://`` (embedded) or ``http(s)://host:port`` (a server).

    Parameters
    ----------
    url : str
    **engine_kwargs
        For ``memory://``, passed to :class:`Engine`; for HTTP, the keyword
        arguments of :class:`RemoteEngine` (``region``, ``timeout``, the keys, ``verify``).

    Examples
    --------
    >>> import shardstream
    >>> engine = shardstream.connect("memory://")
    >>> engine.create_stream("s", 1).put_record(b"x", "k")["ShardId"]
    'shardId-000000000000'
    """
    if url.startswith("memory://"):
        return Engine(**engine_kwargs)
    if url.startswith(("http://", "https://")):
        return RemoteEngine(url, **engine_kwargs)
    raise ValueError(f"unsupported URL {url!r}: use memory:// or http(s)://host:port")


def _jsonable(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


_TIMESTAMP_KEYS = {"ApproximateArrivalTimestamp", "StreamCreationTimestamp", "ConsumerCreationTimestamp"}


def _decoded(value, key=None):
    """Turn a JSON response back into the engine's shapes (bytes, datetimes)."""
    if isinstance(value, dict):
        return {k: _decoded(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v, key) for v in value]
    if key == "Data" and isinstance(value, str):
        return base64.b64decode(value)
    if key in _TIMESTAMP_KEYS and isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(value, tz=_dt.timezone.utc)
    return value


class RemoteEngine:
    """The :class:`Engine` API over the Kinesis JSON protocol.

    Parameters
    ----------
    url : str
        ``http(s)://host:port`` of a server.
    region : str
        Region for request signing.
    timeout : float
        Seconds per request.
    access_key_id, secret_access_key : str, optional
        Signing keys (default: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, else dummy keys).
    verify : bool or str
        For https: True checks the server certificate against the system CAs,
        a path checks it against that CA bundle (e.g. a self-signed cert),
        False skips the check.
    """

    def __init__(
        self,
        url: str,
        *,
        region: str = "us-east-1",
        timeout: float = 30.0,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        verify: bool | str = True,
    ):
        self.url = url.rstrip("/") + "/"
        # https only: True (system CAs), False (no certificate check) or a CA bundle path
        self._ssl_context = None
        if verify is False:
            import ssl

            self._ssl_context = ssl._create_unverified_context()
        elif isinstance(verify, (str, os.PathLike)):
            import ssl

            self._ssl_context = ssl.create_default_context(cafile=os.fspath(verify))
        self.region = region
        self.timeout = timeout
        self._access_key = access_key_id or os.environ.get("AWS_ACCESS_KEY_ID") or "AKIDSHARDSTREAM"
        self._secret = secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY") or "shardstream"

    def _sign(self, headers: dict, body: bytes) -> dict:
        """Add SigV4 ``X-Amz-Date`` and ``Authorization`` headers (service ``kinesis``)."""
        from .server.auth import signature  # standard library only

        parts = urlsplit(self.url)
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = {**headers, "Host": parts.netloc, "X-Amz-Date": amz_date}
        lowered = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
        signed = sorted(lowered)
        canonical = "\n".join(
            [
                "POST",
                parts.path or "/",
                "",
                "".join(f"{k}:{lowered[k]}\n" for k in signed),
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{amz_date[:8]}/{self.region}/kinesis/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        sig = signature(self._secret, amz_date[:8], self.region, "kinesis", to_sign)
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
        )
        return headers

    def call(self, operation: str, params: dict) -> dict:
        """Send one Kinesis ``operation`` (e.g. ``"PutRecord"``) with ``params``; the decoded response or its error."""
        body = json.dumps(_jsonable(params)).encode("utf-8")
        headers = {"Content-Type": _CONTENT_TYPE, "X-Amz-Target": _TARGET + operation}
        request = urllib.request.Request(self.url, data=body, headers=self._sign(headers, body), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl_context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)
            except ValueError:
                raise InternalFailureException(f"{operation}: HTTP {exc.code}: {raw[:200]!r}") from None
            raise error_for(err.get("__type", "InternalFailure").rsplit("#", 1)[-1], err.get("message", "")) from None
        return _decoded(json.loads(raw)) if raw else {}

    # -- control plane -----------------------------------------------------------------

    def create_stream(
        self,
        name: str,
        shard_count: int | None = None,
        retention_hours: int = 24,
        *,
        stream_mode: str = "PROVISIONED",
        tags: dict | None = None,
        wait: bool = True,
        record_distribution: str | None = None,
    ) -> RemoteStream:
        """CreateStream (then IncreaseStreamRetentionPeriod if asked); waits for ACTIVE by default.

        Parameters
        ----------
        name, shard_count, retention_hours, stream_mode, tags, record_distribution
            As for :meth:`Engine.create_stream` (``record_distribution`` is sent
            only when given: the server's default otherwise).
        wait : bool
            Poll until the stream is ACTIVE (:meth:`RemoteStream.wait_active`).

        Returns
        -------
        RemoteStream
        """
        params: dict = {"StreamName": name, "StreamModeDetails": {"StreamMode": stream_mode}}
        if record_distribution is not None:
            params["RecordDistributionStrategy"] = record_distribution
        if shard_count is not None:
            params["ShardCount"] = shard_count
        if tags:
            params["Tags"] = tags
        self.call("CreateStream", params)
        stream = RemoteStream(self, name)
        if wait:
            stream.wait_active()
        if retention_hours != 24:
            stream.increase_stream_retention_period(retention_hours)
        return stream

    def stream(self, name: str) -> RemoteStream:
        """A handle on the existing stream called ``name`` (checked with DescribeStreamSummary)."""
        self.call("DescribeStreamSummary", {"StreamName": name})
        return RemoteStream(self, name)

    def delete_stream(self, name: str, *, enforce_consumer_deletion: bool = False) -> dict:
        """As :meth:`~shardstream.Engine.delete_stream` (``name``, ``enforce_consumer_deletion``), over HTTP."""
        return self.call("DeleteStream", {"StreamName": name, "EnforceConsumerDeletion": enforce_consumer_deletion})

    def describe_stream(self, name: str, limit: int | None = None, exclusive_start_shard_id: str | None = None):
        """As :meth:`Engine.describe_stream` (``name``, ``limit``, ``exclusive_start_shard_id``), over HTTP."""
        return self.call(
            "DescribeStream", {"StreamName": name, "Limit": limit, "ExclusiveStartShardId": exclusive_start_shard_id}
        )

    def describe_stream_summary(self, name: str) -> dict:
        """As :meth:`~shardstream.Engine.describe_stream_summary` (``name``), over HTTP."""
        return self.call("DescribeStreamSummary", {"StreamName": name})

    def list_streams(
        self, limit: int | None = None, exclusive_start_stream_name: str | None = None, next_token: str | None = None
    ) -> dict:
        """As :meth:`~shardstream.Engine.list_streams`, over the Kinesis API of the server.

        Parameters
        ----------
        limit, exclusive_start_stream_name, next_token
            As for :meth:`Engine.list_streams`.
        """
        return self.call(
            "ListStreams",
            {"Limit": limit, "ExclusiveStartStreamName": exclusive_start_stream_name, "NextToken": next_token},
        )

    def list_shards(
        self,
        stream_name: str | None = None,
        next_token: str | None = None,
        exclusive_start_shard_id: str | None = None,
        max_results: int | None = None,
        *,
        shard_filter: dict | None = None,
    ) -> dict:
        """As :meth:`~shardstream.Engine.list_shards`, over the Kinesis API of the server.

        Parameters
        ----------
        stream_name, next_token, exclusive_start_shard_id, max_results, shard_filter
            As for :meth:`Engine.list_shards`.
        """
        return self.call(
            "ListShards",
            {
                "StreamName": stream_name,
                "NextToken": next_token,
                "ExclusiveStartShardId": exclusive_start_shard_id,
                "MaxResults": max_results,
                "ShardFilter": shard_filter,
            },
        )

    def describe_limits(self) -> dict:
        """As :meth:`~shardstream.Engine.describe_limits`, over the Kinesis API of the server."""
        return self.call("DescribeLimits", {})

    def get_records(self, shard_iterator: str, limit: int | None = None, *, dry_run: bool = False) -> dict:
        """As :meth:`~shardstream.Engine.get_records` (``shard_iterator``, ``limit``, ``dry_run``), over HTTP."""
        return self.call("GetRecords", {"ShardIterator": shard_iterator, "Limit": limit, **_dry(dry_run)})

    def update_stream_record_distribution_strategy(self, stream_arn: str, record_distribution_strategy: str) -> dict:
        """UpdateStreamRecordDistributionStrategy of ``stream_arn`` to ``record_distribution_strategy``; ``{}``."""
        params = {"StreamARN": stream_arn, "RecordDistributionStrategy": record_distribution_strategy}
        return self.call("UpdateStreamRecordDistributionStrategy", params)

    # -- enhanced fan-out consumers (as Engine's; SubscribeToShard is not offered here) -------

    def register_stream_consumer(self, stream_arn: str, consumer_name: str, tags: dict | None = None) -> dict:
        """As :meth:`Engine.register_stream_consumer` (``stream_arn``, ``consumer_name``, ``tags``), over HTTP."""
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "Tags": tags or None}
        return self.call("RegisterStreamConsumer", params)

    def describe_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """As :meth:`Engine.describe_stream_consumer`, over HTTP.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn
            As for :meth:`Engine.describe_stream_consumer`.
        """
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "ConsumerARN": consumer_arn}
        return self.call("DescribeStreamConsumer", params)

    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        *,
        stream_creation_timestamp=None,
    ) -> dict:
        """ListStreamConsumers: ``{"Consumers": [...], "NextToken": ...}``.

        Parameters
        ----------
        stream_arn, next_token, max_results, stream_creation_timestamp
            As for :meth:`Engine.list_stream_consumers`.
        """
        params = {
            "StreamARN": stream_arn,
            "NextToken": next_token,
            "MaxResults": max_results,
            "StreamCreationTimestamp": stream_creation_timestamp,
        }
        return self.call("ListStreamConsumers", params)

    def deregister_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """As :meth:`Engine.deregister_stream_consumer`, over HTTP; ``{}``.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn
            As for :meth:`Engine.deregister_stream_consumer`.
        """
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "ConsumerARN": consumer_arn}
        return self.call("DeregisterStreamConsumer", params)

    def __repr__(self) -> str:
        return f"<RemoteEngine {self.url}>"


class RemoteStream:
    """The :class:`Stream` API of the stream called ``name`` behind ``engine``, a :class:`RemoteEngine`."""

    def __init__(self, engine: RemoteEngine, name: str):
        self._engine = engine
        self.name = name

    def _call(self, operation: str, params: dict) -> dict:
        return self._engine.call(operation, {"StreamName": self.name, **params})

    def wait_active(self, timeout: float = 60.0) -> None:
        """Poll DescribeStreamSummary until the stream is ACTIVE (TimeoutError after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.describe_summary()["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {self.name} not ACTIVE after {timeout} s")
            time.sleep(0.05)

    def describe(self, limit=None, exclusive_start_shard_id=None) -> dict:
        """As :meth:`~shardstream.Stream.describe` (``limit``, ``exclusive_start_shard_id``), over HTTP."""
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
                **_dry(dry_run),
            },
        )

    def put_records(self, records, *, dry_run: bool = False) -> dict:
        """As :meth:`~shardstream.Stream.put_records` (``records``, ``dry_run``), over HTTP."""
        return self._call("PutRecords", {"Records": records, **_dry(dry_run)})

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
            How many times throttled entries are sent again (with backoff).
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
        keys = None if partition_keys is None else as_key_array(partition_keys).to_pylist()
        payloads = as_payload_array(data).to_pylist()
        if keys is None:
            keys = [None] * len(payloads)
        hash_keys = list(explicit_hash_keys) if explicit_hash_keys is not None else [None] * len(keys)

        def request_entry(i: int) -> dict:
            ehk = hash_keys[i]
            return {"Data": payloads[i], "PartitionKey": keys[i], "ExplicitHashKey": None if ehk is None else str(ehk)}

        if dry_run:
            for chunk in self._chunks(range(len(keys)), keys, payloads):
                try:
                    self.put_records([request_entry(i) for i in chunk], dry_run=True)
                except DryRunOperationException:
                    continue
            raise DryRunOperationException()
        shard_ids: list = [None] * len(keys)
        seqs: list = [None] * len(keys)
        pending = list(range(len(keys)))
        for attempt in range(retries + 1):
            failed = []
            for chunk in self._chunks(pending, keys, payloads):
                result = self.put_records([request_entry(i) for i in chunk])
                for i, entry in zip(chunk, result["Records"]):
                    if "SequenceNumber" in entry:
                        shard_ids[i], seqs[i] = entry["ShardId"], entry["SequenceNumber"]
                    else:
                        failed.append(i)
            if not failed:
                break
            if attempt == retries:
                raise ProvisionedThroughputExceededException(
                    f"{len(failed)} of {len(keys)} records were throttled after {retries} retries"
                )
            pending = failed
            time.sleep(0.05 * 2**attempt)
        return pa.table(
            {
                "shard_id": pa.array(shard_ids, pa.string()).dictionary_encode(),
                "sequence_number": pa.array(seqs, pa.string()),
            }
        )

    @staticmethod
    def _chunks(indexes, keys, payloads) -> Iterator[list[int]]:
        chunk, size = [], 0
        for i in indexes:
            n = len(payloads[i]) + (len(keys[i].encode("utf-8")) if keys[i] is not None else 0)
            if chunk and (len(chunk) == _PUT_RECORDS_MAX or size + n > _PUT_RECORDS_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append(i)
            size += n
        if chunk:
            yield chunk

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
        return self._call(
            "GetShardIterator",
            {
                "ShardId": shard_id,
                "ShardIteratorType": shard_iterator_type,
                "StartingSequenceNumber": starting_sequence_number,
                "Timestamp": timestamp,
                **_dry(dry_run),
            },
        )

    def get_records(self, shard_iterator, limit=None, *, dry_run=False) -> dict:
        """As :meth:`~shardstream.Stream.get_records` (``shard_iterator``, ``limit``, ``dry_run``), over HTTP."""
        return self._engine.get_records(shard_iterator, limit, dry_run=dry_run)

    def get_record_batch(self, shard_iterator, limit=None, *, deaggregate=True) -> dict:
        """As :meth:`~shardstream.Stream.get_record_batch` (``shard_iterator``, ``limit``, ``deaggregate``)."""
        page = self.get_records(shard_iterator, limit)
        shard_id = _shard_of(page)
        batch = _to_batch(page["Records"], shard_id)
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
                        batch = _to_batch(page["Records"], shard_id)
                        yield unpack_batch(batch) if deaggregate else batch
                    elif page.get("MillisBehindLatest", 0) == 0:
                        break  # caught up with this shard
                    it = page.get("NextShardIterator")

        return RecordBatchStream(batches, USER_RECORD_SCHEMA if deaggregate else RECORD_SCHEMA)

    def read_table(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, *, deaggregate=True) -> pa.Table:
        """As :meth:`~shardstream.Stream.read_table`, over HTTP.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, deaggregate
            As for :meth:`iter_batches`.
        """
        return self.iter_batches(shard_ids, iterator_type, timestamp, deaggregate=deaggregate).read_all()

    def read_pandas(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, *, deaggregate=True):
        """As :meth:`~shardstream.Stream.read_pandas`, over HTTP.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, deaggregate
            As for :meth:`iter_batches`.
        """
        return to_pandas(self.read_table(shard_ids, iterator_type, timestamp, deaggregate=deaggregate))

    # -- control plane on this stream -------------------------------------------------------

    def split_shard(self, shard_to_split, new_starting_hash_key) -> dict:
        """As :meth:`~shardstream.Stream.split_shard` (``shard_to_split``, ``new_starting_hash_key``), over HTTP."""
        return self._call(
            "SplitShard", {"ShardToSplit": shard_to_split, "NewStartingHashKey": str(new_starting_hash_key)}
        )

    def merge_shards(self, shard_to_merge, adjacent_shard_to_merge) -> dict:
        """As :meth:`~shardstream.Stream.merge_shards` (``shard_to_merge``, ``adjacent_shard_to_merge``), over HTTP."""
        return self._call(
            "MergeShards", {"ShardToMerge": shard_to_merge, "AdjacentShardToMerge": adjacent_shard_to_merge}
        )

    def update_record_distribution_strategy(self, record_distribution_strategy) -> dict:
        """UpdateStreamRecordDistributionStrategy (``record_distribution_strategy``) on this stream; ``{}``."""
        arn = self.describe_summary()["StreamDescriptionSummary"]["StreamARN"]
        return self._engine.update_stream_record_distribution_strategy(arn, record_distribution_strategy)

    def update_shard_count(self, target_shard_count, scaling_type="UNIFORM_SCALING") -> dict:
        """As :meth:`~shardstream.Stream.update_shard_count` (``target_shard_count``, ``scaling_type``), over HTTP."""
        return self._call("UpdateShardCount", {"TargetShardCount": target_shard_count, "ScalingType": scaling_type})

    def increase_stream_retention_period(self, retention_period_hours) -> dict:
        """As :meth:`~shardstream.Stream.increase_stream_retention_period` (``retention_period_hours``), over HTTP."""
        return self._call("IncreaseStreamRetentionPeriod", {"RetentionPeriodHours": retention_period_hours})

    def decrease_stream_retention_period(self, retention_period_hours) -> dict:
        """As :meth:`~shardstream.Stream.decrease_stream_retention_period` (``retention_period_hours``), over HTTP."""
        return self._call("DecreaseStreamRetentionPeriod", {"RetentionPeriodHours": retention_period_hours})

    def add_tags_to_stream(self, tags: dict) -> dict:
        """As :meth:`~shardstream.Stream.add_tags_to_stream` (``tags``), over HTTP."""
        return self._call("AddTagsToStream", {"Tags": tags})

    def remove_tags_from_stream(self, tag_keys) -> dict:
        """As :meth:`~shardstream.Stream.remove_tags_from_stream` (``tag_keys``), over HTTP."""
        return self._call("RemoveTagsFromStream", {"TagKeys": list(tag_keys)})

    def list_tags_for_stream(self, exclusive_start_tag_key=None, limit=None) -> dict:
        """As :meth:`~shardstream.Stream.list_tags_for_stream` (``exclusive_start_tag_key``, ``limit``), over HTTP."""
        return self._call("ListTagsForStream", {"ExclusiveStartTagKey": exclusive_start_tag_key, "Limit": limit})

    def __repr__(self) -> str:
        return f"<RemoteStream {self.name!r} at {self._engine.url}>"


def _shard_of(page: dict) -> str | None:
    records = page.get("Records") or []
    if not records:
        return None
    from .sequence import parse_sequence_number

    parsed = parse_sequence_number(records[0]["SequenceNumber"])
    return parsed.shard_id if parsed else None


def _to_batch(records: list[dict], shard_id: str | None) -> pa.RecordBatch:
    """GetRecords' records as a RecordBatch in RECORD_SCHEMA."""
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
