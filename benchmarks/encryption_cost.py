"""What encryption at rest costs: durable ``put_batch`` into an encrypted stream against an unencrypted one, same run.

Run: ``python benchmarks/encryption_cost.py [--rounds R] [--records N] [--size B] [--dir D]``.

Each timing is a fresh durable stream (4 shards) in a fresh data directory,
one encrypted (StartStreamEncryption with a key from the engine's key store:
every stored batch sealed with AES-256-GCM) and one not.  Two policies:

* ``sync``: every ``put_batch`` returns once its records are written and
  ``fsync``-ed, so the time includes sealing, writing and the ``fsync``;
* ``none``: the puts go to memory and the time ends with ``stream.flush(sync=False)``
  having written everything, so it is the write path's CPU cost without waiting
  for the disk;
* ``segment append``: the storage layer alone, ``SegmentLog.append`` of the same
  10,000-record batch (sealed or not), no ``fsync``: sealing at its most visible.

Rounds alternate which side goes first; printed: medians of per-round ratios
of throughput encrypted / plain (1.0: free; the goal is at least 0.7) and of
records per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa

import shardstream
from shardstream.keys import KeyStore, new_key
from shardstream.storage.format import STORED_SCHEMA
from shardstream.storage.log import SegmentLog

_BATCH = 10_000


def put_seconds(encrypted: bool, durability: str, n: int, size: int, root: str) -> float:
    """Seconds to put ``n`` records of ``size`` bytes (10,000 a call) until all are on disk."""
    keys = {"alias/bench": new_key()}
    with tempfile.TemporaryDirectory(dir=root) as d:
        engine = shardstream.Engine(data_dir=d, durability=durability, keys=keys)
        stream = engine.create_stream("enc", 4)
        if encrypted:
            stream.start_stream_encryption("KMS", "alias/bench")
        pks = [f"user-{i}" for i in range(_BATCH)]
        data = [bytes([i % 251]) * size for i in range(_BATCH)]
        began = time.perf_counter()
        for _ in range(n // _BATCH):
            stream.put_batch(pks, data)
        stream.flush(sync=durability == "sync")
        took = time.perf_counter() - began
        engine.close()
    return took


def append_seconds(encrypted: bool, _policy: str, n: int, size: int, root: str) -> float:
    """Seconds for ``SegmentLog.append`` of ``n`` records of ``size`` bytes, 10,000 a batch, no fsync."""
    store = KeyStore({"alias/bench": new_key()})
    rows = _BATCH
    shard = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["shardId-000000000000"]))
    columns = [
        shard,
        pa.array([str(10**55 + i) for i in range(rows)]),
        pa.array([f"user-{i}" for i in range(rows)]),
        pa.array([bytes([i % 251]) * size for i in range(rows)], pa.binary()),
        pa.array(np.full(rows, 1_700_000_000_000, "datetime64[ms]"), pa.timestamp("ms", tz="UTC")),
    ]
    with tempfile.TemporaryDirectory(dir=root) as d:
        log = SegmentLog(f"{d}/s.0/shards/shardId-000000000000", keys=store)
        first, took = 1, 0.0
        for _ in range(n // rows):
            counters = pa.array(np.arange(first, first + rows, dtype=np.uint64))
            batch = pa.RecordBatch.from_arrays([*columns, counters], schema=STORED_SCHEMA)
            began = time.perf_counter()
            log.append(batch, key_id="alias/bench" if encrypted else None)
            took += time.perf_counter() - began
            first += rows
        log.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100, help="payload bytes per record")
    parser.add_argument("--dir", default=None, help="where the data directories go (default: the temp dir)")
    args = parser.parse_args()
    policies = ("none", "sync", "segment append")
    times = {(p, enc): [] for p in policies for enc in (True, False)}
    put_seconds(True, "none", _BATCH, args.size, args.dir)  # warm-up (imports, first allocation)
    for r in range(args.rounds):
        for policy in policies:
            for enc in (True, False) if r % 2 else (False, True):
                fn = append_seconds if policy == "segment append" else put_seconds
                times[policy, enc].append(fn(enc, policy, args.records, args.size, args.dir))
    print(
        f"{args.rounds} rounds, medians; {args.records:,} records of {args.size} B, put_batch of {_BATCH:,}, 4 shards\n"
    )
    print("| durability | records/s encrypted | records/s plain | throughput encrypted / plain |")
    print("|---|---:|---:|---:|")
    for policy in policies:
        enc, plain = times[policy, True], times[policy, False]
        ratio = statistics.median(p / e for e, p in zip(enc, plain))
        print(
            f"| {policy} | {args.records / statistics.median(enc):,.0f} | "
            f"{args.records / statistics.median(plain):,.0f} | {ratio:.3f} |"
        )


if __name__ == "__main__":
    main()
