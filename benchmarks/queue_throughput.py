"""Receive + acknowledge throughput of an embedded queue (records/s), by batch size.

Run: ``python benchmarks/queue_throughput.py [--records N]``.  Writes N records to an
on-demand stream, then drains a queue with ``Queue.receive_batch`` + ``Queue.settle(..., "ack")``
in batches of 100 and 1000, and through the boto3-shaped calls (batches of 10).
"""

from __future__ import annotations

import argparse
import time

from shardstream import Engine


def drain(engine, stream, name: str, batch: int, boto3_shape: bool) -> float:
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    arn = engine.create_queue(name, config)["QueueDescription"]["QueueARN"]
    queue = engine.queues.queue(arn)
    done = 0
    began = time.perf_counter()
    while True:
        if boto3_shape:
            records = engine.receive_queue_records(arn, limit=batch, wait_time_seconds=1)["QueueRecords"]
            if not records:
                break
            engine.acknowledge_queue_records(arn, [{"ReceiptHandle": r["ReceiptHandle"]} for r in records])
            done += len(records)
        else:
            table = queue.receive_batch(batch)
            if not table.num_rows:
                break
            queue.settle(table.column("receipt_handle").to_pylist(), "ack")
            done += table.num_rows
    elapsed = time.perf_counter() - began - (1.0 if boto3_shape else 0.0)  # the last, empty long poll
    engine.delete_queue(arn)
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    engine = Engine()
    stream = engine.create_stream("bench", stream_mode="ON_DEMAND")
    payload = b"x" * 100
    for start in range(0, args.records, 10_000):
        n = min(10_000, args.records - start)
        stream.put_batch([f"k{start + i}" for i in range(n)], [payload] * n)
    for batch in (100, 1000):
        print(
            f"receive_batch + settle, batches of {batch}: {drain(engine, stream, f'b{batch}', batch, False):,.0f} records/s"
        )
    print(
        f"receive_queue_records + acknowledge_queue_records (10): {drain(engine, stream, 'boto', 10, True):,.0f} records/s"
    )


if __name__ == "__main__":
    main()
