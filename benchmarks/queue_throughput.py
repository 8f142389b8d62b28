"""Receive + acknowledge throughput of a queue (records/s), against a plain read of the same records.

Run: ``python benchmarks/queue_throughput.py [--records N] [--rounds R] [--no-served] [--handles list]``.

Three paths, each draining a fresh TRIM_HORIZON queue of its own on-demand stream:

* Arrow batches of 100 and 1000 (``N`` records): ``Queue.receive_batch`` + ``Queue.settle(handles
  column, "ack")``, the handles passed as the Arrow column they came in (no Python object per record;
  ``--handles list`` passes them as a list of str instead);
* boto3 shapes in batches of 10 (``N / 10`` records): ``engine.receive_queue_records`` +
  ``engine.acknowledge_queue_records`` (a dict per record, as boto3 gives them);
* served, batches of 10 (``N / 100`` records): real boto3 over HTTP against
  ``shardstream.testing.start_server`` (ReceiveQueueRecords + AcknowledgeQueueRecords).

Each path's baseline, measured in the same round, is a plain read of the same records at the
same batch size through the stream's read path: ``get_record_batch`` (Arrow), ``get_records``
(dicts), and boto3's ``get_records`` over the same server.  Printed: medians over the rounds of
records/s and of queue/baseline ratios (a ratio of 0.5 means receive + ack costs twice a read).
"""

from __future__ import annotations

import argparse
import statistics
import time

from shardstream import Engine

_PAYLOAD = b"x" * 100


def _fill(engine, name: str, n: int):
    stream = engine.create_stream(name, stream_mode="ON_DEMAND")
    for start in range(0, n, 10_000):
        k = min(10_000, n - start)
        stream.put_batch([f"k{start + i}" for i in range(k)], [_PAYLOAD] * k)
    return stream


def _queue(engine, stream, name: str) -> str:
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    return engine.create_queue(name, config)["QueueDescription"]["QueueARN"]


def drain_arrow(engine, stream, name: str, total: int, batch: int, as_list: bool = False) -> float:
    """Records/s of receive_batch + settle until ``total`` are acknowledged (handles as the Arrow column,
    or as a list of str with ``as_list``)."""
    arn = _queue(engine, stream, name)
    queue = engine.queues.queue(arn)
    done = 0
    began = time.perf_counter()
    while done < total:
        table = queue.receive_batch(batch)
        handles = table.column("receipt_handle")
        ok = queue.settle(handles.to_pylist() if as_list else handles, "ack")
        done += int(ok.sum())
    elapsed = time.perf_counter() - began
    engine.delete_queue(arn)
    return done / elapsed


def drain_dicts(engine, stream, name: str, total: int) -> float:
    """Records/s of receive_queue_records + acknowledge_queue_records (10 at a time), in process."""
    arn = _queue(engine, stream, name)
    done = 0
    began = time.perf_counter()
    while done < total:
        records = engine.receive_queue_records(arn, limit=10, wait_time_seconds=1)["QueueRecords"]
        out = engine.acknowledge_queue_records(arn, [{"ReceiptHandle": r["ReceiptHandle"]} for r in records])
        done += len(out["Successful"])
    elapsed = time.perf_counter() - began
    engine.delete_queue(arn)
    return done / elapsed


def drain_served(kinesis, engine, stream, name: str, total: int) -> float:
    """Records/s of boto3's ReceiveQueueRecords + AcknowledgeQueueRecords (10 at a time) over HTTP."""
    arn = _queue(engine, stream, name)
    done = 0
    began = time.perf_counter()
    while done < total:
        records = kinesis.receive_queue_records(QueueARN=arn, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
        entries = [{"ReceiptHandle": r["ReceiptHandle"]} for r in records]
        done += len(kinesis.acknowledge_queue_records(QueueARN=arn, Entries=entries)["Successful"])
    elapsed = time.perf_counter() - began
    engine.delete_queue(arn)
    return done / elapsed


def read_all(get, stream, batch: int, records_of) -> float:
    """Records/s of reading every shard of ``stream`` from TRIM_HORIZON with ``get(iterator, batch)``."""
    done = 0
    began = time.perf_counter()
    for shard in stream.shards:
        iterator = stream.get_shard_iterator(shard.shard_id, "TRIM_HORIZON")["ShardIterator"]
        while True:
            response = get(iterator, batch)
            n = records_of(response)
            done += n
            if not n or (n < batch and not response.get("MillisBehindLatest", 1)):
                break
            iterator = response["NextShardIterator"]
    return done / (time.perf_counter() - began)


def _report(label: str, queue_rates: list[float], base_rates: list[float], base: str) -> None:
    ratios = [q / b for q, b in zip(queue_rates, base_rates)]
    print(
        f"{label:<44} {statistics.median(queue_rates):>12,.0f} rec/s   {base}: "
        f"{statistics.median(base_rates):>12,.0f} rec/s   ratio {statistics.median(ratios):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-served", action="store_true", help="skip the path over HTTP")
    parser.add_argument(
        "--handles", choices=["arrow", "list"], default="arrow", help="what the Arrow path passes to settle"
    )
    args = parser.parse_args()
    engine = Engine()
    arrow = _fill(engine, "bench", args.records)
    dicts = _fill(engine, "dicts", args.records // 10)
    served = _fill(engine, "served", args.records // 100)
    rates: dict[str, tuple[list, list]] = {}

    def note(key, queue_rate, base_rate):
        rates.setdefault(key, ([], []))
        rates[key][0].append(queue_rate)
        rates[key][1].append(base_rate)

    server = None
    if not args.no_served:
        from shardstream.testing import boto3_client, start_server

        server = start_server(engine)
        kinesis = boto3_client(server.url)
        kinesis.describe_stream_summary(StreamName="served")  # connect before timing
    try:
        for r in range(args.rounds):
            for batch in (100, 1000):
                note(
                    f"arrow {batch}",
                    drain_arrow(engine, arrow, f"a{batch}-{r}", args.records, batch, args.handles == "list"),
                    read_all(
                        lambda it, n: arrow.get_record_batch(it, n, deaggregate=False),
                        arrow,
                        batch,
                        lambda resp: resp["Records"].num_rows,
                    ),
                )
            note(
                "dicts 10",
                drain_dicts(engine, dicts, f"d-{r}", args.records // 10),
                read_all(dicts.get_records, dicts, 10, lambda resp: len(resp["Records"])),
            )
            if server is not None:
                note(
                    "served 10",
                    drain_served(kinesis, engine, served, f"s-{r}", args.records // 100),
                    read_all(
                        lambda it, n: kinesis.get_records(ShardIterator=it, Limit=n),
                        served,
                        10,
                        lambda resp: len(resp["Records"]),
                    ),
                )
    finally:
        if server is not None:
            server.stop()
    print(f"medians of {args.rounds} rounds")
    for batch in (100, 1000):
        _report(f"receive_batch + settle (Arrow), batches of {batch}", *rates[f"arrow {batch}"], "get_record_batch")
    _report("receive/acknowledge_queue_records (dicts), 10", *rates["dicts 10"], "get_records")
    if server is not None:
        _report("served ReceiveQueueRecords + Acknowledge..., 10", *rates["served 10"], "boto3 get_records")


if __name__ == "__main__":
    main()
