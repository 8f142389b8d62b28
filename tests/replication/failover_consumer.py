"""A consumer-group process for the failover test: prints ``GOT <data>`` per record, checkpoints each batch."""

from __future__ import annotations

import signal
import sys
import threading

import shardstream


class Print(shardstream.RecordProcessor):
    def process(self, records, checkpointer, millis_behind_latest):
        lines = "".join(f"GOT {d.decode()}\n" for d in records.column("data").to_pylist())
        sys.stdout.write(lines)
        sys.stdout.flush()
        checkpointer.checkpoint()


def main(urls: str, stream_name: str, leases: str, group: str) -> None:
    engine = shardstream.connect(urls, retries=0, timeout=5, failover_timeout=60)
    consumer = shardstream.Consumer(
        engine.stream(stream_name), group, Print, leases=leases, failover_ms=1000, idle_ms=20
    ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    consumer.stop()


if __name__ == "__main__":
    main(*sys.argv[1:5])
