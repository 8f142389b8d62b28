"""What ``shardstream.connect(url)`` costs on top of the botocore client it wraps.

A shardstream server runs in a child process (``start_server``, so client and server do not share
a GIL); each round runs, back to back and alternating which goes first, the same workload through
``RemoteStream`` and through the raw botocore client (``engine.client``, the same connection pool):

- ``put_batch``: N records of 100 bytes in PutRecords calls of 500 (``RemoteStream.put_batch`` vs a
  hand-written ``client.put_records`` loop);
- ``get_records``: the same N records read back 1,000 per GetRecords call (dicts, boto3 shape);
- ``read_table``: the stream read into an Arrow table (``RemoteStream.read_table`` vs the raw loop
  plus ``pa.Table.from_pylist``);
- ``put_record``: 300 single PutRecord calls (per-call overhead).

Prints medians (records/s, or calls/s) and the ratios.  Run: ``python benchmarks/remote_client.py
[--records 10000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import pyarrow as pa

import shardstream

_SERVER = r"""
import sys
from shardstream.testing import start_server
handle = start_server()
print(handle.url, flush=True)
sys.stdin.read()
handle.stop()
"""


def _raw_put(client, name, keys, data):
    for start in range(0, len(keys), 500):
        records = [{"Data": d, "PartitionKey": k} for k, d in zip(keys[start : start + 500], data[start : start + 500])]
        client.put_records(StreamName=name, Records=records)


def _raw_read(client, name, n):
    it = client.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    it, rows = it["ShardIterator"], []
    while len(rows) < n:
        page = client.get_records(ShardIterator=it, Limit=1000)
        rows.extend(page["Records"])
        it = page["NextShardIterator"]
    return rows


def _ours(stream, keys, data) -> dict:
    """The workloads through RemoteStream: name -> (callable, count)."""
    n = len(keys)
    return {
        "put_batch": (lambda: stream.put_batch(keys, data), n),
        "get_records": (lambda: _stream_read(stream, n), n),
        "read_table": (stream.read_table, n),
        "put_record": (lambda: [stream.put_record(b"x", "k") for _ in range(300)], 300),
    }


def _raw(client, name, keys, data) -> dict:
    """The same workloads through the raw botocore client: name -> (callable, count)."""
    n = len(keys)
    return {
        "put_batch": (lambda: _raw_put(client, name, keys, data), n),
        "get_records": (lambda: _raw_read(client, name, n), n),
        "read_table": (lambda: pa.Table.from_pylist(_raw_read(client, name, n)), n),
        "put_record": (
            lambda: [client.put_record(StreamName=name, Data=b"x", PartitionKey="k") for _ in range(300)],
            300,
        ),
    }


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.records
    child = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        engine = shardstream.connect(url)
        client = engine.client
        keys = [f"key-{i}" for i in range(n)]
        data = [os.urandom(100) for _ in range(n)]
        times: dict = {}
        for r in range(args.rounds):
            for way in ("shardstream", "botocore") if r % 2 == 0 else ("botocore", "shardstream"):
                name = f"{way}-{r}"
                stream = engine.create_stream(name, 1)
                workloads = _ours(stream, keys, data) if way == "shardstream" else _raw(client, name, keys, data)
                for workload, (fn, count) in workloads.items():
                    t = time.perf_counter()
                    fn()
                    times.setdefault((workload, way), []).append(count / (time.perf_counter() - t))
                engine.delete_stream(name)
        print(f"{n} records, {args.rounds} rounds, medians; load average {os.getloadavg()[0]:.2f}")
        print(f"{'workload':12s} {'shardstream/s':>14s} {'botocore/s':>12s} {'ratio':>6s}")
        for workload in ("put_batch", "get_records", "read_table", "put_record"):
            ours = statistics.median(times[(workload, "shardstream")])
            raw = statistics.median(times[(workload, "botocore")])
            print(f"{workload:12s} {ours:14.0f} {raw:12.0f} {ours / raw:6.2f}")
    finally:
        child.stdin.close()
        child.wait(10)


def _stream_read(stream, n):
    it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    got = 0
    while got < n:
        page = stream.get_records(it, 1000)
        got += len(page["Records"])
        it = page["NextShardIterator"]


if __name__ == "__main__":
    main()
