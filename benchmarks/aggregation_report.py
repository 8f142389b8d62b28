"""KPL aggregation and the read side's unpacking, timed (prints a table; not a pytest file).

    python benchmarks/aggregation_report.py [--records 1000] [--size 100] [--read-records 1000000]

* encode: 1000 user records of 100 bytes into one aggregate, by
  ``AggregateBuilder`` (hand-written protobuf), ``encode_aggregate``, the
  ``protobuf`` library (``aws_kinesis_agg.messages_pb2``, upb when installed) and
  ``aws_kinesis_agg``'s ``RecordAggregator``;
* decode: the same aggregate taken apart by ``deaggregate``, by the
  ``protobuf`` library and by ``aws_kinesis_agg``'s ``iter_deaggregate_records``;
* read: ``Stream.read_table()`` of ``--read-records`` small plain records with
  ``deaggregate=True`` (the default: the scan and the ``sub_sequence_number``
  column) against ``deaggregate=False`` (as stored), interleaved, best of N.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib
import os
import statistics
import time

import shardstream
from shardstream.aggregation import MAGIC, AggregateBuilder, deaggregate, encode_aggregate


def best(fn, rounds: int) -> float:
    """Best wall time of ``rounds`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--read-records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    keys = [f"key-{i}" for i in range(args.records)]
    payloads = [os.urandom(args.size) for _ in range(args.records)]
    rows = []

    def builder():
        b = AggregateBuilder()
        for k, d in zip(keys, payloads):
            b.try_add(k, d)
        return b.build()

    rows.append(("encode: AggregateBuilder.try_add x N + build", best(builder, args.rounds)))
    rows.append(("encode: encode_aggregate", best(lambda: encode_aggregate(keys, payloads), args.rounds)))
    blob = encode_aggregate(keys, payloads)
    try:
        from aws_kinesis_agg.deaggregator import iter_deaggregate_records

        # after the deaggregator, which puts the generated modules' folder on sys.path
        messages_pb2 = importlib.import_module("aws_kinesis_agg.messages_pb2")
        RecordAggregator = importlib.import_module("aws_kinesis_agg.aggregator").RecordAggregator
        from google.protobuf.internal import api_implementation

        impl = api_implementation.Type()
    except ImportError:
        messages_pb2 = None
    if messages_pb2 is not None:

        def library_encode():
            message = messages_pb2.AggregatedRecord()
            table = {}
            for k, d in zip(keys, payloads):
                index = table.get(k)
                if index is None:
                    index = table[k] = len(table)
                    message.partition_key_table.append(k)
                r = message.records.add()
                r.partition_key_index = index
                r.data = d
            proto = message.SerializeToString()
            return MAGIC + proto + hashlib.md5(proto).digest()

        def library_decode():
            message = messages_pb2.AggregatedRecord()
            body = blob[4:-16]
            if hashlib.md5(body).digest() != blob[-16:]:
                raise ValueError
            message.ParseFromString(body)
            pks, ehks = list(message.partition_key_table), list(message.explicit_hash_key_table)
            return [
                (
                    pks[r.partition_key_index],
                    ehks[r.explicit_hash_key_index] if r.HasField("explicit_hash_key_index") else None,
                    r.data,
                )
                for r in message.records
            ]

        def agg_encode():
            agg = RecordAggregator()
            for k, d in zip(keys, payloads):
                agg.add_user_record(k, d)
            return agg.clear_and_get().get_contents()

        lambda_event = [
            {
                "kinesis": {
                    "data": base64.b64encode(blob).decode(),
                    "partitionKey": keys[0],
                    "sequenceNumber": "1",
                    "kinesisSchemaVersion": "1.0",
                    "approximateArrivalTimestamp": 1.0,
                }
            }
        ]
        rows.append((f"encode: protobuf library ({impl})", best(library_encode, args.rounds)))
        rows.append(("encode: aws_kinesis_agg RecordAggregator", best(agg_encode, args.rounds)))
    rows.append(("decode: deaggregate", best(lambda: deaggregate(blob), args.rounds)))
    if messages_pb2 is not None:
        rows.append((f"decode: protobuf library ({impl})", best(library_decode, args.rounds)))
        rows.append(
            (
                "decode: aws_kinesis_agg iter_deaggregate_records",
                best(lambda: list(iter_deaggregate_records(lambda_event)), args.rounds),
            )
        )
    for name, seconds in rows:
        print(f"{name:<55} {seconds * 1e3:9.3f} ms")

    stream = shardstream.Engine().create_stream("bench", shard_count=4)
    n = args.read_records
    step = 100_000
    for start in range(0, n, step):
        count = min(step, n - start)
        stream.put_batch([f"k{i}" for i in range(start, start + count)], [b"x" * 16] * count)
    raw, user = [], []
    for _ in range(max(5, args.rounds)):  # alternated, so both see the same machine
        raw.append(best(lambda: stream.read_table(deaggregate=False), 1))
        user.append(best(lambda: stream.read_table(), 1))
    ratios = sorted(u / r for u, r in zip(user, raw))
    print(f"read_table {n:,} plain 16-byte records, deaggregate=False   {statistics.median(raw) * 1e3:9.1f} ms")
    print(f"read_table {n:,} plain 16-byte records, deaggregate=True    {statistics.median(user) * 1e3:9.1f} ms")
    print(f"ratio (True / False), median of per-round ratios            {statistics.median(ratios):9.2f}")


if __name__ == "__main__":
    main()
