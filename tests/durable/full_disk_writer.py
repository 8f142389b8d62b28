"""Subprocess entry point for the full-disk tests (``tests/durable/test_full_disk.py``).

Usage::

    python full_disk_writer.py DATA_DIR DURABILITY [FLUSH_INTERVAL_MS]

Opens ``Engine(data_dir=DATA_DIR, durability=DURABILITY)`` with the stream
``full`` (2 shards; created unless it exists), prints ``ready``, then obeys
commands read from stdin, one per line:

``put FIRST COUNT``
    ``put_record`` of records ``FIRST .. FIRST+COUNT-1``, one at a time.
``records FIRST COUNT``
    One ``put_records`` call holding those records.
``flood FIRST BATCH SECONDS``
    ``put_batch`` calls of ``BATCH`` records each, 10 ms apart, for
    ``SECONDS``; a refused call is retried (with the same records) until the
    time is up.  Then ``M <peak RSS in KiB>`` and ``G <records a
    TRIM_HORIZON read of every shard returned>``.
``close``
    ``engine.close()``, print ``closed`` and exit.

After each put: ``A <id> <monotonic s>`` per acknowledged record, or
``F <id> <monotonic s> <error type> <message>`` per record of a failed put; ``done`` after
each command.  Record ``id``'s payload is :func:`payload`.
"""

from __future__ import annotations

import resource
import sys
import time

SIZE = 1000
STREAM = "full"


def payload(n: int) -> bytes:
    head = b"%d:" % n
    return head + bytes([65 + n % 26]) * (SIZE - len(head))


def peak_rss_kib() -> int:
    """Peak resident memory of this process since it started (``VmHWM``; ``ru_maxrss`` survives exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def identity(data: bytes) -> int:
    return int(data.split(b":", 1)[0])


def main() -> None:
    import shardstream
    from shardstream.errors import KinesisError

    data_dir, durability = sys.argv[1], sys.argv[2]
    interval = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    engine = shardstream.Engine(
        data_dir=data_dir,
        durability=durability,
        flush_interval_ms=interval,
        max_segment_bytes=256 * 1024,
        shard_capacity_bytes=8 * 1024 * 1024,
    )
    stream = engine.stream(STREAM) if STREAM in engine.list_streams()["StreamNames"] else None
    if stream is None:
        stream = engine.create_stream(STREAM, 2)
    out = sys.stdout

    def report(ids, exc=None):
        if exc is None:
            now = time.monotonic()
            out.write("".join(f"A {n} {now:.4f}\n" for n in ids))
        else:
            now, kind, message = time.monotonic(), getattr(exc, "error_type", type(exc).__name__), str(exc)
            out.write("".join(f"F {n} {now:.4f} {kind} {message.replace(chr(10), ' ')}\n" for n in ids))
        out.flush()

    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "put":
            first, count = map(int, args)
            for n in range(first, first + count):
                try:
                    stream.put_record(payload(n), f"k{n}")
                except KinesisError as exc:
                    report([n], exc)
                else:
                    report([n])
        elif cmd == "records":
            first, count = map(int, args)
            ids = list(range(first, first + count))
            try:
                stream.put_records([{"Data": payload(n), "PartitionKey": f"k{n}"} for n in ids])
            except KinesisError as exc:
                report(ids, exc)
            else:
                report(ids)
        elif cmd == "flood":
            first, batch, seconds = int(args[0]), int(args[1]), float(args[2])
            end = time.monotonic() + seconds
            n = first
            while time.monotonic() < end:
                ids = list(range(n, n + batch))
                try:
                    stream.put_batch([f"k{i}" for i in ids], [payload(i) for i in ids])
                except KinesisError as exc:
                    report(ids[:1], exc)  # one line per refusal is enough; the ids are retried
                else:
                    report(ids)
                    n += batch
                time.sleep(0.01)
            print(f"M {peak_rss_kib()}", flush=True)
            seen = 0
            for shard in stream.shards:
                it = stream.get_shard_iterator(shard.shard_id, "TRIM_HORIZON")["ShardIterator"]
                while it:
                    got = stream.get_records(it, 10_000)
                    seen += len(got["Records"])
                    if not got["Records"]:
                        break
                    it = got.get("NextShardIterator")
            print(f"G {seen}", flush=True)
        elif cmd == "close":
            engine.close()
            print("closed", flush=True)
            return
        print("done", flush=True)


if __name__ == "__main__":
    main()
