"""GetRecords entries come from one formatter, ``shardstream.records.format_records``, fed with
Arrow: it gives exactly what the per-record Python code gave before it (checked against that
code over many batches), for streams in memory and on disk; and one GetRecords request
decodes its shard iterator once."""

from __future__ import annotations

import base64
import datetime
import random

import pyarrow as pa
import pytest

import shardstream
from shardstream import ExpiredIteratorException, InvalidArgumentException
from shardstream.iterators import IteratorCodec
from shardstream.records import format_records
from shardstream.schema import RECORD_SCHEMA
from shardstream.server import actions

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
KEYS = ["k", "ключ", "日本語", "a" * 250, "é", 'x y"z\\', "\x00ctl", "🙂"]


def reference(batch: pa.RecordBatch, wire: bool) -> list[dict]:
    """The entries as the per-record code made them before (durable.py's ``_records``, which
    matched ``ShardLog.read_records`` field for field)."""
    seqs = batch.column("sequence_number").to_pylist()
    keys = batch.column("partition_key").to_pylist()
    data = batch.column("data").to_pylist()
    millis = batch.column("approximate_arrival_timestamp").view(pa.int64()).to_pylist()
    if wire:
        times = [ms / 1000.0 for ms in millis]
        data = [base64.b64encode(d).decode("ascii") for d in data]
    else:
        times = [_EPOCH + datetime.timedelta(milliseconds=ms) for ms in millis]
    return [
        {"SequenceNumber": s, "ApproximateArrivalTimestamp": t, "Data": d, "PartitionKey": k}
        for s, t, d, k in zip(seqs, times, data, keys)
    ]


def random_batch(rng: random.Random, n: int) -> pa.RecordBatch:
    ms = rng.randrange(0, 2**41)
    arrivals = []
    for _ in range(n):
        ms += rng.choice([0, 0, 0, 1, 999, 1000, 86_400_000])
        arrivals.append(ms)
    return pa.RecordBatch.from_arrays(
        [
            pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["shardId-000000000007"])),
            pa.array([str(rng.randrange(10**55, 10**56)) for _ in range(n)], pa.string()),
            pa.array([rng.choice(KEYS) + str(rng.randrange(100)) for _ in range(n)], pa.string()),
            pa.array([rng.randbytes(rng.choice([0, 1, 2, 3, 4, 5, 57, 100, 1000])) for _ in range(n)], pa.binary()),
            pa.array(arrivals, pa.int64()).view(RECORD_SCHEMA.field(4).type),
        ],
        schema=RECORD_SCHEMA,
    )


def same(got: list[dict], want: list[dict]) -> None:
    assert got == want
    for g, w in zip(got, want):
        assert list(g) == list(w)  # key order too
        for field in g:
            assert type(g[field]) is type(w[field])
        assert repr(g["ApproximateArrivalTimestamp"]) == repr(w["ApproximateArrivalTimestamp"])


@pytest.mark.parametrize("wire", [False, True])
def test_format_records_gives_what_the_per_record_code_gave(wire):
    rng = random.Random(20261206 + wire)
    for _ in range(300):
        batch = random_batch(rng, rng.choice([0, 1, 2, 3, 17, 200]))
        same(format_records(batch, wire=wire), reference(batch, wire))
        if batch.num_rows > 2:  # slices, and batches glued from slices
            a, b = sorted(rng.sample(range(batch.num_rows + 1), 2))
            part = batch.slice(a, b - a)
            same(format_records(part, wire=wire), reference(part, wire))
            glued = pa.concat_batches([batch.slice(b), batch.slice(0, a)])
            same(format_records(glued, wire=wire), reference(glued, wire))


def test_format_records_shapes_and_edge_cases():
    rng = random.Random(1)
    batch = random_batch(rng, 5)
    boto3, wire = format_records(batch, wire=False), format_records(batch, wire=True)
    assert all(isinstance(r["Data"], bytes) and r["ApproximateArrivalTimestamp"].tzinfo is not None for r in boto3)
    assert all(isinstance(r["Data"], str) and isinstance(r["ApproximateArrivalTimestamp"], float) for r in wire)
    assert format_records(None, wire=True) == []
    assert format_records(pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA), wire=False) == []
    # other column orders and extra columns: the named columns are read
    reordered = pa.RecordBatch.from_arrays(
        [batch.column(4), batch.column(3), pa.array(range(5)), batch.column(2), batch.column(1)],
        names=["approximate_arrival_timestamp", "data", "extra", "partition_key", "sequence_number"],
    )
    same(format_records(reordered, wire=True), reference(batch, True))
    with pytest.raises(ValueError):
        format_records(batch.drop_columns(["data"]), wire=False)
    with pytest.raises(ValueError):
        format_records(batch.set_column(3, "data", pa.array(["x"] * 5, pa.string())), wire=False)
    with_null = batch.set_column(2, "partition_key", pa.array(["a", None, "b", "c", "d"], pa.string()))
    with pytest.raises(ValueError):
        format_records(with_null, wire=False)


@pytest.mark.parametrize("wire", [False, True])
def test_get_records_in_memory_matches_its_arrow_batch(wire):
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000, 7)).__next__
    engine = shardstream.Engine(clock=clock)
    stream = engine.create_stream("s", 2)
    rng = random.Random(3)
    for i in range(400):
        stream.put_record(rng.randbytes(rng.randrange(0, 50)), rng.choice(KEYS) + str(i))
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        for limit in (1, 3, 10_000):
            got = stream.get_records(it, limit, wire=wire)
            batch = stream.get_record_batch(it, limit)
            same(got["Records"], reference(batch["Records"], wire))


@pytest.mark.parametrize("wire", [False, True])
def test_durable_get_records_reads_disk_and_ring_alike(tmp_path, wire):
    now = [1_700_000_000_000]

    def clock():
        now[0] += 3
        return now[0]

    with shardstream.Engine(data_dir=tmp_path, clock=clock) as engine:
        stream = engine.create_stream("d", 1, shard_capacity_bytes=1 << 21)
        payload = b"p" * 2000
        for i in range(3000):  # more than the ring holds: the oldest are on disk only
            stream.put_record(payload + str(i).encode(), f"k{i}")
        stream.flush()
        sid = stream.list_shards()[0]["ShardId"]
        assert stream.logs[0].head > 1  # the ring evicted what is on disk
        it = stream.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"]
        seen = []
        while True:
            got = stream.get_records(it, 700, wire=wire)
            batch = stream.get_record_batch(it, 700)["Records"]
            same(got["Records"], reference(batch, wire))
            seen += got["Records"]
            if not got["Records"]:
                break
            it = got["NextShardIterator"]
        datas = [base64.b64decode(r["Data"]) if wire else r["Data"] for r in seen]
        assert datas == [payload + str(i).encode() for i in range(3000)]


# -- an iterator is decoded once per request ----------------------------------------------------


@pytest.fixture
def decodes(monkeypatch):
    calls = []
    verify = IteratorCodec._verify

    def counting(self, token):
        calls.append(token)
        return verify(self, token)

    monkeypatch.setattr(IteratorCodec, "_verify", counting)
    return calls


@pytest.mark.parametrize("throttled", [False, True])
def test_get_records_decodes_its_iterator_once(decodes, throttled):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1, throughput_limits=throttled)
    stream.put_record(b"x", "k")
    it = stream.get_shard_iterator(stream.list_shards()[0]["ShardId"], "TRIM_HORIZON")["ShardIterator"]
    for call in (
        lambda: engine.get_records(it, 10),
        lambda: stream.get_records(it, 10, wire=True),
        lambda: actions.get_records(engine, {"ShardIterator": it, "Limit": 10}, json_wire=True),
        lambda: actions.get_records(engine, {"ShardIterator": it, "Limit": 10}, json_wire=False),
    ):
        decodes.clear()
        engine.catalog.iterators._verified.clear()
        call()
        assert decodes == [it]


def test_a_remembered_iterator_still_expires_and_bad_ones_still_fail():
    now = [1_700_000_000_000]
    engine = shardstream.Engine(clock=lambda: now[0])
    stream = engine.create_stream("s", 1)
    it = stream.get_shard_iterator(stream.list_shards()[0]["ShardId"], "TRIM_HORIZON")["ShardIterator"]
    assert engine.get_records(it)["Records"] == []
    now[0] += 300_001
    with pytest.raises(ExpiredIteratorException, match="Iterator expired"):
        engine.get_records(it)
    for bad in (it[:-4] + "AAAA", "not base64!", ""):
        for _ in range(2):
            with pytest.raises(InvalidArgumentException, match=r"^Invalid ShardIterator\.$"):
                engine.get_records(bad)
