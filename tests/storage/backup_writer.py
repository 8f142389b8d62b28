"""Subprocess entry point for ``test_backup.py``: a durable engine written to until killed.

Usage::

    python backup_writer.py DATA_DIR DURABILITY

Opens ``Engine(data_dir=DATA_DIR, durability=DURABILITY, max_segment_bytes=128 KiB)``,
creates the stream ``live`` (3 shards), prints ``ready``, then puts small records in a
loop, alternating ``put_record``, ``put_records`` and ``put_batch`` calls, until killed.
Record ``n`` has the data ``rec:<n>:`` plus filler and the partition key ``pk-<n % 17>``.
After each put returns, one line per record it stored is written to stdout (flushed)::

    A <n> <shard id> <sequence number>

Under ``durability="sync"`` a put returns once its records are written and ``fsync``-ed,
so a line names a durably acknowledged record.  Under ``"interval"`` and ``"none"`` a put
returns before that; every tenth put the writer also calls ``engine.flush()`` (write and
``fsync`` everything accepted so far) and then prints ``F``: the records of the ``A``
lines before an ``F`` line are durable.  Segments of 128 KiB fill over many puts,
so a backup meets newest segments that are growing.
"""

from __future__ import annotations

import os
import sys

import shardstream

STREAM = "live"


def main() -> None:
    data_dir, durability = sys.argv[1], sys.argv[2]
    engine = shardstream.Engine(data_dir=data_dir, durability=durability, max_segment_bytes=128 * 1024)
    live = engine.create_stream(STREAM, shard_count=3)
    os.write(1, b"ready\n")
    n, call = 0, 0
    while True:
        count = 1 if call % 3 == 0 else 1 + (n * 7919) % 40
        ids = range(n, n + count)
        keys = [f"pk-{i % 17}" for i in ids]
        data = [b"rec:%d:" % i + b"." * (50 + i % 200) for i in ids]
        if call % 3 == 0:
            r = live.put_record(data[0], keys[0])
            acked = [(n, r["ShardId"], r["SequenceNumber"])]
        elif call % 3 == 1:
            r = live.put_records([{"Data": d, "PartitionKey": k} for d, k in zip(data, keys)])
            assert r["FailedRecordCount"] == 0, r
            acked = [(i, e["ShardId"], e["SequenceNumber"]) for i, e in zip(ids, r["Records"])]
        else:
            t = live.put_batch(keys, data)
            acked = list(zip(ids, t.column("shard_id").to_pylist(), t.column("sequence_number").to_pylist()))
        out = "".join(f"A {i} {sid} {seq}\n" for i, sid, seq in acked).encode()
        if durability != "sync" and call % 10 == 9:
            engine.flush()
            out += b"F\n"
        while out:
            out = out[os.write(1, out) :]
        n += count
        call += 1


if __name__ == "__main__":
    main()
