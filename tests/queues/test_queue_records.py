"""The boto3-shaped answers of the queue calls (``shardstream.queue_records``): the records are what
pyarrow's own per-value conversion gives, timestamps to the millisecond; settle requests that are
well formed skip the per-member checks, and every malformed one still fails exactly as before."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from shardstream.errors import SerializationException, ValidationException
from shardstream.queue_records import queue_records, settle_results

from .helpers import make_queue, put, setup

_UTC = pa.timestamp("ms", tz="UTC")


def _table(ms: list[int]) -> pa.Table:
    n = len(ms)
    return pa.table(
        {
            "receipt_handle": pa.array([f"h{i}" for i in range(n)], pa.string()),
            "record_id": pa.array([str(10**20 + i) for i in range(n)], pa.string()),
            "partition_key": pa.array(["k", "ключ", "", 'x"y'][:n] + ["z"] * max(0, n - 4), pa.string()),
            "data": pa.array([bytes([i % 256]) * i for i in range(n)], pa.binary()),
            "approximate_arrival_timestamp": pa.array(ms, _UTC),
            "first_receive_timestamp": pa.array([m + 1 for m in ms], _UTC),
            "receive_count": pa.array(range(1, n + 1), pa.int32()),
        }
    )


def test_records_are_pyarrows_values():
    ms = [0, 1, 999, 1_000, 1_700_000_000_001, 1_700_000_000_999, 4_102_444_800_000]
    table = pa.concat_tables([_table(ms[:3]), _table(ms[3:])])  # two chunks per column
    got = queue_records(table)
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    assert got == [
        {
            "ReceiptHandle": cols["receipt_handle"][i],
            "RecordId": cols["record_id"][i],
            "PartitionKey": cols["partition_key"][i],
            "Data": cols["data"][i],
            "ApproximateArrivalTimestamp": cols["approximate_arrival_timestamp"][i],
            "FirstReceiveTimestamp": cols["first_receive_timestamp"][i],
            "ReceiveCount": cols["receive_count"][i],
        }
        for i in range(len(ms))
    ]
    stamp = got[-3]["ApproximateArrivalTimestamp"]
    assert stamp.utcoffset() == dt.timedelta(0) and stamp.microsecond == 1_000
    assert queue_records(_table([])) == []


def test_settle_results_keep_request_order():
    out = settle_results(["a", "b", "c"], np.array([False, True, False]), "arn:q")
    assert out["Successful"] == [{"ReceiptHandle": "b"}]
    assert [f["ReceiptHandle"] for f in out["Failed"]] == ["a", "c"]
    assert out["Failed"][0] == {
        "ReceiptHandle": "a",
        "ErrorCode": "InvalidArgumentException",
        "ErrorMessage": "The receipt handle a is not valid for queue arn:q.",
    }


@pytest.fixture
def env():
    clock, engine, stream = setup()
    yield clock, engine, stream
    engine.close()


@pytest.mark.parametrize(
    ("entries", "error", "text"),
    [
        ([], ValidationException, "at 'entries' failed to satisfy constraint: Member must have length greater"),
        ([{"ReceiptHandle": "h"}] * 11, ValidationException, "Member must have length less than or equal to 10"),
        ("x", SerializationException, "Entries must be a list"),
        ([{"ReceiptHandle": "h"}, "x"], SerializationException, "Entries must be structures"),
        ([{"ReceiptHandle": 5}], SerializationException, "ReceiptHandle must be a str"),
        ([{}], ValidationException, "Value null at 'entries.1.member.receiptHandle'"),
        ([{"ReceiptHandle": ""}], ValidationException, "Value '' at 'entries.1.member.receiptHandle'"),
        ([{"ReceiptHandle": "h" * 1025}], ValidationException, "Member must have length less than or equal to 1024"),
    ],
)
def test_malformed_settle_requests_fail_as_before(env, entries, error, text):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    with pytest.raises(error, match=text.replace("(", r"\(").replace(".", r"\.")):
        engine.acknowledge_queue_records(arn, entries)


@pytest.mark.parametrize("timeout", [None, True, -1, 43_201, "5"])
def test_malformed_visibility_requests_fail_as_before(env, timeout):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    entry = {"ReceiptHandle": "h"} if timeout is None else {"ReceiptHandle": "h", "VisibilityTimeoutSeconds": timeout}
    with pytest.raises((ValidationException, SerializationException)) as info:
        engine.update_queue_records_visibility(arn, [entry])
    assert "isibilityTimeoutSeconds" in str(info.value)


def test_well_formed_requests_settle(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    put(stream, 3)
    records = engine.receive_queue_records(arn, wait_time_seconds=1)["QueueRecords"]
    handles = [r["ReceiptHandle"] for r in records]
    moved = engine.update_queue_records_visibility(
        arn, [{"ReceiptHandle": h, "VisibilityTimeoutSeconds": 0} for h in handles[:1]]
    )
    assert moved == {"Successful": [{"ReceiptHandle": handles[0]}], "Failed": []}
    answer = engine.acknowledge_queue_records(arn, [{"ReceiptHandle": h} for h in [*handles[1:], "not-a-handle"]])
    assert answer["Successful"] == [{"ReceiptHandle": h} for h in handles[1:]]
    assert [f["ReceiptHandle"] for f in answer["Failed"]] == ["not-a-handle"]
