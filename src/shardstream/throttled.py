"""A stream's data-plane calls with a throttle policy consulted first.

:meth:`Stream.set_throttle` binds the calls of a :class:`ThrottledCalls` on
the stream in place of its own ``put_record``, ``put_records``,
``put_batch``, ``get_shard_iterator``, ``get_records`` and
``get_record_batch``.  Each call is planned here with the stream's own checks
and routing (so a plan never disagrees with the write it precedes), then the
policy (:class:`~shardstream.throttle.StreamThrottle`) admits it or refuses
it.  A request the stream itself would refuse goes straight to the real call,
which raises the stream's own error.

Each refusal is counted in the engine's metrics as Kinesis counts it, with
the dimension ``StreamName``: ``WriteProvisionedThroughputExceeded`` (the
records refused: 1 for a PutRecord, the throttled entries of a PutRecords,
the whole of a ``put_batch``) and ``ReadProvisionedThroughputExceeded``
(1 per GetRecords refused); dry runs count nothing.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from .columns import as_key_array, as_payload_array
from .errors import KinesisError, ProvisionedThroughputExceededException
from .puts import keyless, parse_hash_keys, parse_put_records, record_sizes
from .unpack import unpack_batch

__all__ = ["THROTTLED_CALLS", "ThrottledCalls"]

_WRITE_EXCEEDED = "WriteProvisionedThroughputExceeded"
_READ_EXCEEDED = "ReadProvisionedThroughputExceeded"
_THROTTLED = "ProvisionedThroughputExceededException"

#: The data-plane calls a throttle policy is consulted on.
THROTTLED_CALLS = ("put_record", "put_records", "put_batch", "get_shard_iterator", "get_records", "get_record_batch")


class ThrottledCalls:
    """The throttled data-plane calls of one stream.

    Parameters
    ----------
    stream : Stream
    policy : StreamThrottle
        Admits or refuses each call.
    real : dict
        The stream's own calls by name (``THROTTLED_CALLS``): what an admitted
        call runs.
    """

    def __init__(self, stream, policy, real: dict):
        self.stream = stream
        self.policy = policy
        self._real = real

    def put_record(
        self, data, partition_key=None, explicit_hash_key=None, sequence_number_for_ordering=None, *, dry_run=False
    ):
        """:meth:`Stream.put_record`, admitted by the policy first.

        Parameters
        ----------
        data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run
            As for :meth:`Stream.put_record`.
        """
        real = self._real["put_record"]
        args = (data, partition_key, explicit_hash_key, sequence_number_for_ordering)
        plan = self._plan_record(data, partition_key, explicit_hash_key)
        if plan is None:  # refused by the stream: the same error as unthrottled
            return real(*args, dry_run=dry_run)
        if sequence_number_for_ordering is not None:
            self.stream.check_ordering(sequence_number_for_ordering)  # an invalid one is IA, not a throttle
        shard_id, nbytes = plan
        try:
            return self.policy.admit_record(shard_id, nbytes, functools.partial(real, *args), dry_run=dry_run)
        except ProvisionedThroughputExceededException:
            if not dry_run:
                self._count(_WRITE_EXCEEDED, 1)
            raise

    def put_records(self, records, *, dry_run=False):
        """:meth:`Stream.put_records` (``records``, ``dry_run``), each entry admitted by the policy first."""
        real = self._real["put_records"]
        if dry_run:  # throttling fails entries, not the request: nothing to check here
            return real(records, dry_run=True)
        plan = self._plan_entries(records)
        if plan is None:
            return real(records)
        result = self.policy.admit_entries(records, plan, real)
        if result["FailedRecordCount"]:
            refused = sum(1 for r in result["Records"] if r.get("ErrorCode") == _THROTTLED)
            self._count(_WRITE_EXCEEDED, refused)
            self.stream.meters.throttled_entries(self.stream.now_ms(), refused)  # never reached the stream's own call
        return result

    def put_batch(self, partition_keys, data, explicit_hash_keys=None, *, simd=True, dry_run=False):
        """:meth:`Stream.put_batch`, admitted by the policy first (all or nothing).

        Parameters
        ----------
        partition_keys, data, explicit_hash_keys, simd, dry_run
            As for :meth:`Stream.put_batch`.
        """
        real = self._real["put_batch"]
        keys = None if partition_keys is None else as_key_array(partition_keys)
        payloads = as_payload_array(data)
        if keys is None:
            keys = keyless(len(payloads), self.stream.auto_distribution)
        usage = self._plan_batch(keys, payloads, explicit_hash_keys, simd)
        if usage is None:
            return real(keys, payloads, explicit_hash_keys, simd=simd, dry_run=dry_run)
        write = functools.partial(real, keys, payloads, explicit_hash_keys, simd=simd)
        try:
            return self.policy.admit_batch(usage, write, dry_run=dry_run)
        except ProvisionedThroughputExceededException:
            if not dry_run:
                self._count(_WRITE_EXCEEDED, len(keys))
            raise

    def get_shard_iterator(
        self, shard_id, shard_iterator_type, starting_sequence_number=None, timestamp=None, *, dry_run=False
    ):
        """:meth:`Stream.get_shard_iterator`, admitted by the policy.

        Parameters
        ----------
        shard_id, shard_iterator_type, starting_sequence_number, timestamp, dry_run
            As for :meth:`Stream.get_shard_iterator`.
        """
        # Making an iterator has no side effect: validate by making it, then drop it if throttled.
        make = functools.partial(
            self._real["get_shard_iterator"], shard_id, shard_iterator_type, starting_sequence_number, timestamp
        )
        result = make()
        key = self.stream.resolve_shard(shard_id).shard_id
        return self.policy.admit_iterator(key, result, make, dry_run=dry_run)

    def get_records(self, shard_iterator, limit=None, *, wire=False, dry_run=False):
        """:meth:`Stream.get_records` (``shard_iterator``, ``limit``, ``wire``, ``dry_run``), admitted by the policy."""
        read = functools.partial(self._real["get_records"], shard_iterator, limit, wire=wire, dry_run=dry_run)
        index = self._iterator_shard(shard_iterator, limit)
        if index is None:
            return read()  # raises the stream's own error
        return self._read_counted(self.policy.admit_records_read, index, read, dry_run)

    def get_record_batch(self, shard_iterator, limit=None, *, dry_run=False, deaggregate=True):
        """:meth:`Stream.get_record_batch`, admitted by the policy (which counts the records as stored).

        Parameters
        ----------
        shard_iterator, limit, dry_run, deaggregate
            As for :meth:`Stream.get_record_batch`; the records are unpacked after admission.
        """
        read = functools.partial(
            self._real["get_record_batch"], shard_iterator, limit, dry_run=dry_run, deaggregate=False
        )
        index = self._iterator_shard(shard_iterator, limit)
        result = read() if index is None else self._read_counted(self.policy.admit_batch_read, index, read, dry_run)
        return {**result, "Records": unpack_batch(result["Records"])} if deaggregate else result

    def _count(self, metric: str, refused: int) -> None:
        """Count ``refused`` throttled records or calls in the engine's metrics (``metric``, per stream)."""
        if refused:
            self.stream.catalog.metrics.record(metric, {"StreamName": self.stream.name}, refused, unit="Count")

    def _read_counted(self, admit, index: int, read, dry_run: bool) -> dict:
        """``admit(index, read)``, a refusal counted in ``ReadProvisionedThroughputExceeded``."""
        try:
            return admit(index, read, dry_run=dry_run)
        except ProvisionedThroughputExceededException:
            if not dry_run:
                self._count(_READ_EXCEEDED, 1)
            raise

    def _iterator_shard(self, shard_iterator, limit) -> int | None:
        """The shard index a GetRecords call reads, or None if the stream would refuse the call."""
        reads = self.stream.reads
        try:
            if limit is not None:
                reads.check_limit(limit)
            return reads.decode_iterator(shard_iterator, self.stream.now_ms()).shard_index
        except Exception:
            return None

    # Planning a write before it happens; a refused request (None) goes to the
    # real call, which raises its own error.

    def _plan_rows(self, keys: pa.Array, payloads: pa.Array, explicit_hash_keys, simd: bool = True):
        """(shard ids, positions, sizes) of rows the stream would accept, or None if it would refuse them."""
        stream = self.stream
        if stream.status not in ("ACTIVE", "UPDATING"):
            return None
        try:
            stream.check_rows(keys, payloads)
            ehk = parse_hash_keys(explicit_hash_keys, len(keys))
        except KinesisError:
            return None
        positions = np.asarray(stream.route_rows(keys, ehk, simd))
        return stream.routing.shard_ids, positions, record_sizes(keys, payloads)

    def _plan_record(self, data, partition_key, explicit_hash_key):
        """(shard id, nbytes) of a PutRecord, or None if the stream would reject it."""
        if partition_key is None and self.stream.auto_distribution:
            partition_key = ""  # a keyless AUTO record
        if not isinstance(partition_key, str) or data is None:
            return None
        try:
            payloads = pa.array([data.encode("utf-8") if isinstance(data, str) else bytes(data)], pa.binary())
        except TypeError:
            return None
        ehk = None if explicit_hash_key is None else [explicit_hash_key]
        plan = self._plan_rows(pa.array([partition_key], pa.string()), payloads, ehk)
        if plan is None:
            return None
        ids, positions, sizes = plan
        return ids[int(positions[0])], int(sizes[0])

    def _plan_entries(self, records):
        """Per entry (shard id, nbytes) of a PutRecords request, or None if it would be rejected."""
        stream = self.stream
        try:
            keys, payloads, hash_keys = parse_put_records(records, stream.max_record_bytes, stream.auto_distribution)
        except KinesisError:
            return None
        plan = self._plan_rows(keys, payloads, hash_keys)
        if plan is None:
            return None
        ids, positions, sizes = plan
        return [(ids[int(p)], int(n)) for p, n in zip(positions, sizes)]

    def _plan_batch(self, keys: pa.Array, payloads: pa.Array, explicit_hash_keys, simd: bool):
        """Records and bytes per shard id of a put_batch, or None if it would be rejected."""
        if len(keys) == 0 or len(payloads) != len(keys):
            return None
        plan = self._plan_rows(keys, payloads, explicit_hash_keys, simd)
        if plan is None:
            return None
        ids, positions, sizes = plan
        counts = np.bincount(positions, minlength=len(ids))
        nbytes = np.bincount(positions, weights=sizes, minlength=len(ids))
        return {ids[i]: (int(counts[i]), int(nbytes[i])) for i in np.flatnonzero(counts)}
