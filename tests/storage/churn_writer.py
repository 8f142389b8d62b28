"""Subprocess entry point for ``test_backup.py``: streams deleted, re-created and resharded until killed.

Usage::

    python churn_writer.py DATA_DIR

Opens ``Engine(data_dir=DATA_DIR, max_segment_bytes=8 KiB)``, prints ``ready``, then
cycles through the streams ``s0`` ... ``s4``: deletes the stream if it exists, creates it
with 2 shards, puts 200 records of 300 bytes (segments roll), and every third time
reshards it to 4 shards; so a backup meets streams and segments appearing and vanishing.
"""

from __future__ import annotations

import os
import sys

import shardstream


def main() -> None:
    engine = shardstream.Engine(data_dir=sys.argv[1], max_segment_bytes=8192)
    os.write(1, b"ready\n")
    i = 0
    while True:
        name = f"s{i % 5}"
        if name in engine.list_streams()["StreamNames"]:
            engine.delete_stream(name)
        churned = engine.create_stream(name, shard_count=2)
        for j in range(20):
            churned.put_records([{"Data": b"x" * 300, "PartitionKey": f"k{j}.{k}"} for k in range(10)])
        if i % 3 == 0:
            churned.update_shard_count(4)
        i += 1


if __name__ == "__main__":
    main()
