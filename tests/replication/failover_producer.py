"""A producer process for the failover test: ``KEY:I`` records, in order per key, over several endpoints.

Prints ``ACK <key> <i> <shard> <sequence number> <endpoint>`` for each acknowledged record, then ``DONE``.
"""

from __future__ import annotations

import sys
import threading
import time

import shardstream


def main(urls: str, stream_name: str, total: int, keys: int) -> None:
    engine = shardstream.connect(urls, retries=0, timeout=5, failover_timeout=60)
    producer = shardstream.Producer(engine.stream(stream_name), ordered=True, linger_ms=5, retry_deadline=90)
    lock = threading.Lock()

    def acked(key, i):
        def note(future):
            answer = future.result()
            with lock:
                print(f"ACK {key} {i} {answer['ShardId']} {answer['SequenceNumber']} {engine.url}", flush=True)

        return note

    for i in range(total // keys):
        for k in range(keys):
            producer.send(f"k{k}:{i}".encode(), f"k{k}").add_done_callback(acked(f"k{k}", i))
        time.sleep(0.004)
    producer.flush()
    producer.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
