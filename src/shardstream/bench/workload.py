"""The workload of a ``shardstream bench`` run, and the payloads it writes.

:class:`Workload` is what the command line describes (records, sizes,
shards, batching, producers and consumers, latency sampling), checked once;
:class:`Payloads` pre-builds the batches producers send, so the timed loop
measures the engine rather than the making of data; :func:`stamp` and
:func:`read_stamp` put a send time (``time.perf_counter_ns``, one clock for
every process on the machine) and a sample number into a latency record.
"""

from __future__ import annotations

import dataclasses
import os
import struct

import pyarrow as pa

__all__ = ["MAX_RECORD_SIZE", "STAMP_SIZE", "Payloads", "Workload", "read_stamp", "stamp"]

#: Kinesis's largest record (1 MiB).
MAX_RECORD_SIZE = 1024 * 1024
_STAMP = struct.Struct("<4sIq")
_MAGIC = b"ssbl"
#: Bytes a latency record's stamp takes (its payload is at least this long).
STAMP_SIZE = _STAMP.size


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark's workload.

    Parameters
    ----------
    records : int
        Records the producers put in the throughput phase (ignored when
        ``duration_s`` is given).
    record_size : int
        Payload bytes per record.
    shards : int
        Shards of the benchmark stream.
    batch : int
        Records per put call (1: PutRecord; more: ``put_batch``, i.e. PutRecords).
    producers : int
        Producer threads.
    consumers : int
        Consumer threads, which share the shards between them.
    duration_s : float or None
        Put for this many seconds instead of a number of records.
    latency_samples : int
        Records put one by one, at ``latency_interval_s``, whose put-to-read
        times are measured (0: no latency phase).
    latency_interval_s : float
        Pause between latency records (a moderate rate, not saturation).
    poll_interval_s : float
        The polling reader's pause after a round of empty GetRecords answers
        (0: poll again at once).
    subscribe : bool
        Measure a SubscribeToShard subscriber too.
    """

    records: int = 100_000
    record_size: int = 100
    shards: int = 4
    batch: int = 500
    producers: int = 1
    consumers: int = 1
    duration_s: float | None = None
    latency_samples: int = 1000
    latency_interval_s: float = 0.001
    poll_interval_s: float = 0.0
    subscribe: bool = True

    def __post_init__(self):
        checks = [
            (self.records >= 1, "records must be at least 1"),
            (1 <= self.record_size <= MAX_RECORD_SIZE, f"record size must be 1 to {MAX_RECORD_SIZE} bytes"),
            (self.shards >= 1, "shards must be at least 1"),
            (1 <= self.batch <= 500, "batch must be 1 to 500 records (a PutRecords request's most)"),
            (self.batch * self.record_size <= 5 * MAX_RECORD_SIZE, "a batch must hold at most 5 MiB"),
            (self.producers >= 1, "producers must be at least 1"),
            (self.consumers >= 0, "consumers must be 0 or more"),
            (self.duration_s is None or self.duration_s > 0, "duration must be positive"),
            (self.latency_samples >= 0, "latency samples must be 0 or more"),
            (self.latency_interval_s >= 0, "the latency interval must be 0 or more"),
            (self.poll_interval_s >= 0, "the poll interval must be 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def as_dict(self) -> dict:
        """The workload as plain JSON-able values.

        Returns
        -------
        dict
        """
        return dataclasses.asdict(self)


class Payloads:
    """Pre-built put batches: ``batch`` records of ``record_size`` bytes with spread partition keys.

    Parameters
    ----------
    workload : Workload
    variants : int
        Distinct batches made (producers cycle through them).
    """

    def __init__(self, workload: Workload, variants: int = 8):
        self.batch = workload.batch
        self.record_size = workload.record_size
        self._batches = []
        for v in range(variants):
            keys = pa.array([f"k{v}-{i}" for i in range(self.batch)], pa.string())
            blob = os.urandom(self.record_size * self.batch)
            offsets = pa.array(range(0, len(blob) + 1, self.record_size), pa.int32())
            data = pa.BinaryArray.from_buffers(
                pa.binary(), self.batch, [None, offsets.buffers()[1], pa.py_buffer(blob)]
            )
            self._batches.append((keys, data))

    def get(self, n: int) -> tuple[pa.Array, pa.Array]:
        """The ``n``-th batch (cycling through the variants) as (partition keys, payloads).

        Parameters
        ----------
        n : int

        Returns
        -------
        tuple of (pyarrow.StringArray, pyarrow.BinaryArray)
        """
        return self._batches[n % len(self._batches)]


def stamp(sample: int, send_ns: int, size: int) -> bytes:
    """A latency record's payload: magic, ``sample`` number and ``send_ns``, padded to ``size`` bytes.

    Parameters
    ----------
    sample : int
        The sample's number (0 to 2**32 - 1).
    send_ns : int
        ``time.perf_counter_ns()`` just before the put.
    size : int
        Payload size (at least :data:`STAMP_SIZE` is written).

    Returns
    -------
    bytes
    """
    head = _STAMP.pack(_MAGIC, sample, send_ns)
    return head + bytes(max(0, size - len(head)))


def read_stamp(payload: bytes) -> tuple[int, int] | None:
    """``(sample, send_ns)`` of a payload made by :func:`stamp`, or None for any other payload.

    Parameters
    ----------
    payload : bytes

    Returns
    -------
    tuple of (int, int) or None
    """
    if len(payload) < STAMP_SIZE or payload[:4] != _MAGIC:
        return None
    _, sample, send_ns = _STAMP.unpack_from(payload)
    return sample, send_ns
