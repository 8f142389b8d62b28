"""mock_kinesis() against moto's mock_aws: boto3 put_record and get_records calls per second, in one run.

The same boto3 code (a client made inside each mock, retries off) runs under
``shardstream.testing.mock_kinesis()`` and under ``moto.mock_aws()``, in
alternating rounds; the best round of each is reported, with the ratio.  Both
answer in process through botocore's ``before-send`` event, so the difference
is the work behind it (shardstream: the server's pipeline and the embedded
engine; moto: its Kinesis backend).  boto3's own client-side cost (serializing,
signing, parsing) is in both numbers, so the end-to-end ratio understates the
gap behind the hook; a third run answers every call from ``before-send`` with a
canned body (botocore's floor), and the report also gives the time per call
behind the hook (total minus the floor) and its ratio.

Run: ``python benchmarks/mock_kinesis_report.py [--calls 2000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import time

import boto3
from botocore.config import Config


def _client():
    return boto3.session.Session().client(
        "kinesis",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def workload(calls: int) -> dict[str, float]:
    """put_record and get_records calls per second through a fresh client (inside whatever mock is active)."""
    kinesis = _client()
    kinesis.create_stream(StreamName="bench", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="bench", WaiterConfig={"Delay": 0.01})
    payload = b"x" * 100
    start = time.perf_counter()
    for i in range(calls):
        kinesis.put_record(StreamName="bench", Data=payload, PartitionKey=str(i))
    put_s = time.perf_counter() - start
    iterator = kinesis.get_shard_iterator(
        StreamName="bench", ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )
    iterator = iterator["ShardIterator"]
    start = time.perf_counter()
    for _ in range(calls):
        iterator = kinesis.get_records(ShardIterator=iterator, Limit=10)["NextShardIterator"]
    get_s = time.perf_counter() - start
    return {"put_record": calls / put_s, "get_records": calls / get_s}


def run_shardstream(calls: int) -> dict[str, float]:
    from shardstream.testing import mock_kinesis

    with mock_kinesis():
        return workload(calls)


def run_moto(calls: int) -> dict[str, float]:
    from moto import mock_aws

    with mock_aws():
        return workload(calls)


class _Canned:
    """A raw body botocore reads: the same small answer for every call (the floor: botocore alone)."""

    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


_CANNED = {
    "PutRecord": b'{"ShardId":"shardId-000000000000","SequenceNumber":"49000000000000000000000000000000000000000000000000000000"}',
    "GetRecords": b'{"Records":[],"NextShardIterator":"it","MillisBehindLatest":0}',
    "GetShardIterator": b'{"ShardIterator":"it"}',
    "CreateStream": b"",
    "DescribeStream": b'{"StreamDescription":{"StreamStatus":"ACTIVE","StreamName":"bench","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/bench","Shards":[],"HasMoreShards":false,"RetentionPeriodHours":24,"StreamCreationTimestamp":0,"EnhancedMonitoring":[]}}',
}


def _canned_answer(request, **kwargs):
    from botocore.awsrequest import AWSResponse

    operation = (
        request.headers["X-Amz-Target"].decode().split(".")[-1]
        if isinstance(request.headers["X-Amz-Target"], bytes)
        else request.headers["X-Amz-Target"].split(".")[-1]
    )
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Canned(_CANNED[operation]))


def run_floor(calls: int) -> dict[str, float]:
    import botocore.handlers

    botocore.handlers.BUILTIN_HANDLERS.append(("before-send.kinesis", _canned_answer))
    try:
        return workload(calls)
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(("before-send.kinesis", _canned_answer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {"shardstream": {}, "moto": {}, "floor": {}}
    for _ in range(args.rounds):
        for name, run in (("shardstream", run_shardstream), ("moto", run_moto), ("floor", run_floor)):
            for op, rate in run(args.calls).items():
                best[name][op] = max(best[name].get(op, 0.0), rate)
    print(
        f"{'operation':<12} {'mock_kinesis':>14} {'moto mock_aws':>14} {'ratio':>7}   ({args.calls} calls, best of {args.rounds})"
    )
    for op in ("put_record", "get_records"):
        ours, theirs = best["shardstream"][op], best["moto"][op]
        print(f"{op:<12} {ours:>12,.0f}/s {theirs:>12,.0f}/s {ours / theirs:>6.1f}x")
    floors = "/".join(f"{best['floor'][op]:,.0f}" for op in ("put_record", "get_records"))
    print(f"\nbehind before-send: time per call minus botocore's own (a canned answer: {floors} calls/s)")
    for op in ("put_record", "get_records"):
        floor_us = 1e6 / best["floor"][op]
        ours_us, theirs_us = 1e6 / best["shardstream"][op] - floor_us, 1e6 / best["moto"][op] - floor_us
        print(f"{op:<12} {ours_us:>10,.0f} us {theirs_us:>10,.0f} us {theirs_us / ours_us:>6.1f}x")


if __name__ == "__main__":
    main()
