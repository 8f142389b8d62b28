"""Subprocess entry point for the durable crash tests (``tests/durable/test_crash.py``).

Usage::

    python crash_writer.py DATA_DIR DURABILITY RUN [options]

Opens ``Engine(data_dir=DATA_DIR, durability=DURABILITY)``, creates the stream
``crash`` (2 shards) unless it exists (printing ``opening`` before it opens the
engine, so a test can kill it during recovery, and ``ready`` after), then ingests from
``--threads`` threads with a seeded mix of ``put_record``, ``put_records`` and
``put_batch`` until killed (or, with ``--puts N``, until each thread has made
N puts; it then prints ``idle`` and sleeps until killed).

Writer ``W`` is ``"<RUN>.<thread>"``; its ``n``-th record has the payload
:func:`payload` and the partition key :func:`partition_key`, so the test can
check content from the identity alone.  After each put returns, one line per
acknowledged record is written to stdout (whole puts at once, flushed)::

    A <writer> <n> <shard id> <sequence number>

Other lines: ``R <open shards>`` after the optional reshard, and
``S <shard id> <evicted records>`` (ring statistics, every 50 ms).  Any
exception in a writer thread is printed to stderr and exits with status 3, so
the test can tell an engine error from its own SIGKILL.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import traceback

STREAM = "crash"
SHARD_CAPACITY_BYTES = 2 * 1024 * 1024  # the minimum: twice the 1 MiB max record size
MAX_SEGMENT_BYTES = 64 * 1024


def payload(writer: str, n: int, small: bool = False) -> bytes:
    """The data of writer ``writer``'s ``n``-th record: its identity, then filler of varying size.

    ``small`` payloads (``--puts`` runs) keep a few puts well inside one 8 KiB file buffer.
    """
    head = f"{writer}:{n}:".encode()
    size = 8 + (n * 2654435761) % (40 if small else 6000)
    filler = (b"%08x" % ((n * 40503) & 0xFFFFFFFF)) * (size // 8 + 1)
    return head + filler[:size]


def partition_key(writer: str, n: int) -> str:
    return f"pk-{writer}-{n % 11}"


def identity(data: bytes) -> tuple[str, int]:
    """``(writer, n)`` from a payload made by :func:`payload`."""
    writer, n, _ = data.split(b":", 2)
    return writer.decode(), int(n)


def _emit(lock: threading.Lock, text: str) -> None:
    data = text.encode()
    with lock:
        while data:
            written = os.write(1, data)
            data = data[written:]


def _writer(stream, writer: str, seed: int, puts: int | None, lock: threading.Lock, done: threading.Event) -> None:
    rng = random.Random(seed)
    n = 0
    made = 0
    try:
        while puts is None or made < puts:
            kind = rng.choices(("record", "records", "batch"), (2, 4, 4))[0]
            if kind == "record":
                count = 1
            elif puts is not None:  # the idle tests keep puts small
                count = rng.randint(1, 3)
            else:
                count = rng.randint(1, 60 if kind == "records" else 250)
            ids = range(n, n + count)
            keys = [partition_key(writer, i) for i in ids]
            data = [payload(writer, i, puts is not None) for i in ids]
            if kind == "record":
                r = stream.put_record(data[0], keys[0])
                acked = [(n, r["ShardId"], r["SequenceNumber"])]
            elif kind == "records":
                r = stream.put_records([{"Data": d, "PartitionKey": k} for d, k in zip(data, keys)])
                if r["FailedRecordCount"]:
                    raise AssertionError(f"put_records failed: {r}")
                acked = [(i, e["ShardId"], e["SequenceNumber"]) for i, e in zip(ids, r["Records"])]
            else:
                t = stream.put_batch(keys, data)
                acked = list(zip(ids, t.column("shard_id").to_pylist(), t.column("sequence_number").to_pylist()))
            _emit(lock, "".join(f"A {writer} {i} {sid} {seq}\n" for i, sid, seq in acked))
            n += count
            made += 1
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
    finally:
        done.set()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("durability", choices=["sync", "interval", "none"])
    parser.add_argument("run", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--flush-interval-ms", type=int, default=50)
    parser.add_argument("--puts", type=int, default=None, help="puts per thread, then idle")
    parser.add_argument("--reshard", action="store_true", help="2 -> 4 shards once, while writing")
    parser.add_argument(
        "--flush-race",
        action="store_true",
        help="run stream.flush(sync=False) just before each group commit, as a concurrent "
        "flush (Engine.flush(sync=False), or another writer finding its ring full) may",
    )
    args = parser.parse_args(argv)

    import shardstream

    lock = threading.Lock()
    _emit(lock, "opening\n")
    engine = shardstream.Engine(
        data_dir=args.data_dir,
        durability=args.durability,
        flush_interval_ms=args.flush_interval_ms,
        max_segment_bytes=MAX_SEGMENT_BYTES,
        shard_capacity_bytes=SHARD_CAPACITY_BYTES,
    )
    if STREAM in engine.list_streams()["StreamNames"]:
        stream = engine.stream(STREAM)
    else:
        stream = engine.create_stream(STREAM, 2)
    if args.flush_race:
        commit = stream.store.commit

        def racing_commit(logs, clock):
            stream.flush(sync=False)
            commit(logs, clock)

        stream.store.commit = racing_commit
    _emit(lock, "ready\n")
    done = [threading.Event() for _ in range(args.threads)]
    threads = [
        threading.Thread(
            target=_writer,
            args=(stream, f"{args.run}.{t}", args.run * 1000 + t, args.puts, lock, done[t]),
            daemon=True,
        )
        for t in range(args.threads)
    ]
    for t in threads:
        t.start()
    reshard = args.reshard and stream.open_shard_count == 2
    started = time.monotonic()
    while not all(d.is_set() for d in done):
        time.sleep(0.05)
        if reshard and time.monotonic() - started > 0.1:
            stream.update_shard_count(4)
            reshard = False
            _emit(lock, f"R {stream.open_shard_count}\n")
        _emit(lock, "".join(f"S {s['ShardId']} {s['EvictedRecords']}\n" for s in stream.shard_stats()))
    _emit(lock, "idle\n")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
