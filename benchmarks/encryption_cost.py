"""What encryption at rest costs: durable ``put_batch`` into an encrypted stream against an unencrypted one, same run.

Run: ``python benchmarks/encryption_cost.py [--rounds R] [--records N] [--size B] [--dir D]``.

Each timing is a fresh durable stream (4 shards) in a fresh data directory,
one encrypted (StartStreamEncryption with a key from the engine's key store:
every stored batch sealed with AES-256-GCM) and one not.  Two policies:

* ``sync``: every ``put_batch`` returns once its records are written and
  ``fsync``-ed, so the time includes sealing, writing and the ``fsync``;
* ``none``: the puts go to memory and the time ends with ``stream.flush(sync=False)``
  having written everything, so it is the write path's CPU cost (sealing at its
  most visible) without waiting for the disk.

Rounds alternate which side goes first; printed: medians of per-round ratios
of throughput encrypted / plain (1.0: free; the goal is at least 0.7) and of
records per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import shardstream
from shardstream.keys import new_key

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100, help="payload bytes per record")
    parser.add_argument("--dir", default=None, help="where the data directories go (default: the temp dir)")
    args = parser.parse_args()
    policies = ("none", "sync")
    times = {(p, enc): [] for p in policies for enc in (True, False)}
    put_seconds(True, "none", _BATCH, args.size, args.dir)  # warm-up (imports, first allocation)
    for r in range(args.rounds):
        for policy in policies:
            for enc in (True, False) if r % 2 else (False, True):
                times[policy, enc].append(put_seconds(enc, policy, args.records, args.size, args.dir))
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
