"""Replay of real data directories: order, shard and range selection, errors, torn tails, CLI."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream.history as replay_module
from shardstream.cli import main
from shardstream.errors import InvalidArgumentException, ResourceNotFoundException
from shardstream.history import ReplayPlan, replay, replay_dataset
from shardstream.models import ms_to_datetime, to_epoch_ms
from shardstream.schema import RECORD_SCHEMA
from shardstream.sequence import format_sequence_number, sequence_counter, shard_created_s
from shardstream.storage import SegmentLog, write_json_atomic
from shardstream.storage.layout import STREAM_FILE, shard_dir, stream_dir_name, streams_dir

CREATED_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
SPLIT_MS = CREATED_MS + 500_000  # shard 1 splits into shards 2 and 3
T0 = CREATED_MS + 60_000  # first arrival
INCARNATION = 0x2A
FAST = settings(max_examples=25, deadline=None)


# -- building data directories -------------------------------------------------------------


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def sequence_number(index: int, counter: int, created_ms: int = CREATED_MS) -> str:
    """The number of ``counter`` in shard ``index``: the initial shards arrive in T0's second, the split's
    children (one second after the split in the creation field) in SPLIT_MS's."""
    if created_ms == CREATED_MS:
        return format_sequence_number(CREATED_MS // 1000, index, counter, T0 // 1000)
    return format_sequence_number(shard_created_s(created_ms, [CREATED_MS // 1000]), index, counter, created_ms // 1000)


def record_batch(index: int, counters, arrivals, created_ms: int = CREATED_MS) -> pa.RecordBatch:
    """A RECORD_SCHEMA batch of shard ``index``; payloads include empty and non-UTF-8 bytes."""
    n = len(counters)
    return pa.RecordBatch.from_arrays(
        [
            pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([shard_id(index)])),
            pa.array([sequence_number(index, c, created_ms) for c in counters], pa.string()),
            pa.array([f"key-{index}-{c % 5}" for c in counters], pa.string()),
            pa.array([bytes([0xFF - index, c % 256]) * (c % 4) for c in counters], pa.binary()),
            pa.array(arrivals, pa.timestamp("ms", tz="UTC")),
        ],
        schema=RECORD_SCHEMA,
    )


def shard_doc(index: int, created_ms: int = CREATED_MS, **extra) -> dict:
    doc = {
        "index": index,
        "starting_hash_key": "0",
        "ending_hash_key": str(2**128 - 1),
        "created_ms": created_ms,
        "parent": None,
        "adjacent_parent": None,
        "closed_ms": None,
    }
    return {**doc, **extra}


@dataclasses.dataclass
class Stored:
    """A stream written to a data directory, and the rows written to each shard, in order."""

    root: Path
    name: str
    stream_dir: Path
    rows: dict[int, list[dict]]

    def expected(self, shards=None, keep=lambda index, counter, arrival_ms: True) -> list[dict]:
        """The rows of ``shards`` (default all), shard by shard, for which ``keep`` holds."""
        out = []
        for index in sorted(self.rows if shards is None else shards):
            out += [r for r in self.rows[index] if keep(index, counter_of(r), arrival_of(r))]
        return out


def counter_of(row: dict) -> int:
    return sequence_counter(row["sequence_number"])


def arrival_of(row: dict) -> int:
    return to_epoch_ms(row["approximate_arrival_timestamp"])


def write_stream(
    root: Path, name: str, shards: dict, docs: list[dict], *, max_segment_bytes: int = 2048, account=None
) -> Stored:
    """Write ``stream.json`` and each shard's batches (``shards``: index -> list of batches)."""
    stream_dir = streams_dir(root) / stream_dir_name(name, INCARNATION)
    stream_dir.mkdir(parents=True)
    doc = {
        "format": 1,
        "name": name,
        "created_ms": CREATED_MS,
        "retention_hours": 24,
        "sequence_layout": 2,
        "shards": docs,
    }
    write_json_atomic(stream_dir / STREAM_FILE, doc)
    if account is not None:
        write_json_atomic(root / "engine.json", {"format": 1, "account_id": account})
    rows = {}
    for index, batches in shards.items():
        with SegmentLog(shard_dir(stream_dir, index), max_segment_bytes) as log:
            for batch in batches:
                log.append(batch)
        rows[index] = pa.Table.from_batches(batches).to_pylist()
    return Stored(root, name, stream_dir, {**{d["index"]: [] for d in docs}, **rows})


def batches_of(index: int, counters: list[int], arrivals: list[int], size: int, created_ms=CREATED_MS) -> list:
    return [
        record_batch(index, counters[i : i + size], arrivals[i : i + size], created_ms)
        for i in range(0, len(counters), size)
    ]


def make_events(root: Path, **kwargs) -> Stored:
    """Shards 0 and 1, then 1 split into 2 (with records) and 3 (no segment directory)."""
    c0, c1, c2 = list(range(1, 61)), list(range(1, 41)), list(range(1, 26))
    shards = {
        0: batches_of(0, c0, [T0 + (c // 3) * 10 for c in c0], 12),
        1: batches_of(1, c1, [T0 + 5 + (c // 2) * 10 for c in c1], 8),
        2: batches_of(2, c2, [SPLIT_MS + c * 10 for c in c2], 5, SPLIT_MS),
    }
    docs = [
        shard_doc(0),
        shard_doc(1, closed_ms=SPLIT_MS),
        shard_doc(2, SPLIT_MS, parent=shard_id(1)),
        shard_doc(3, SPLIT_MS, parent=shard_id(1)),
    ]
    return write_stream(root, "events", shards, docs, **kwargs)


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Stored:
    """Shared and never modified: tests that damage data build their own."""
    return make_events(tmp_path_factory.mktemp("data"))


def rows(source) -> list[dict]:
    """Rows of a reader, table or dataset."""
    if isinstance(source, pa.RecordBatchReader):
        source = source.read_all()
    return source.to_pylist()


# -- the Python API --------------------------------------------------------------------------


def test_full_replay_is_every_record_shard_by_shard(events):
    reader = replay(events.root, "events")
    assert reader.schema.equals(RECORD_SCHEMA, check_metadata=True)
    batches = list(reader)
    assert all(b.schema.equals(RECORD_SCHEMA, check_metadata=True) for b in batches)
    assert all(len(set(b.column("shard_id").to_pylist())) == 1 for b in batches)
    assert rows(pa.Table.from_batches(batches)) == events.expected()
    assert len(events.expected()) == 60 + 40 + 25
    assert len(list((events.stream_dir / "shards" / shard_id(0)).iterdir())) > 1  # several segments


def test_replay_is_lazy(events, monkeypatch):
    opened = []

    class CountingLog(SegmentLog):
        def __init__(self, directory, *args, **kwargs):
            opened.append(Path(directory).name)
            super().__init__(directory, *args, **kwargs)

    monkeypatch.setattr(replay_module, "SegmentLog", CountingLog)
    reader = replay(events.root, "events")
    assert opened == []
    reader.read_next_batch()
    assert opened == [shard_id(0)]
    reader.read_all()
    assert opened == [shard_id(0), shard_id(1), shard_id(2)]  # shard 3 has no directory


def test_shard_filter_accepts_lenient_ids_in_index_order(events):
    got = rows(replay(events.root, "events", shards=["shardId-000000000002", "1", "shard-1"]))
    assert got == events.expected([1, 2])
    assert rows(replay(events.root, "events", shards="shardId-000000000000")) == events.expected([0])


def test_shard_without_segment_directory_yields_nothing(events):
    assert not (events.stream_dir / "shards" / shard_id(3)).exists()
    table = replay(events.root, "events", shards=[shard_id(3)]).read_all()
    assert table.num_rows == 0 and table.schema.equals(RECORD_SCHEMA)


def test_time_range(events):
    start, end = T0 + 100, T0 + 300
    got = rows(replay(events.root, "events", start=ms_to_datetime(start), end=end / 1000))
    expected = events.expected(keep=lambda i, c, t: start <= t < end)
    assert got == expected and {r["shard_id"] for r in got} == {shard_id(0), shard_id(1)}
    naive = ms_to_datetime(start).replace(tzinfo=None)  # naive means UTC
    assert rows(replay(events.root, "events", start=naive, end=end / 1000)) == expected


def test_time_range_past_the_newest_record_is_empty(events):
    assert replay(events.root, "events", start=dt.datetime(2100, 1, 1)).read_all().num_rows == 0


def test_sequence_number_range_reads_only_its_shard(events):
    start, end = sequence_number(0, 15), sequence_number(0, 33)
    got = rows(replay(events.root, "events", start=start, end=end))
    assert got == events.expected([0], lambda i, c, t: 15 <= c < 33)
    assert got[0]["sequence_number"] == start


def test_sequence_number_bound_with_shards_bounds_only_its_shard(events):
    start = sequence_number(1, 30)
    got = rows(replay(events.root, "events", shards=["0", "1"], start=start))
    assert got == events.expected([0, 1], lambda i, c, t: i != 1 or c >= 30)


def test_time_start_and_sequence_number_end(events):
    start, end = T0 + 95, sequence_number(1, 31)
    got = rows(replay(events.root, "events", start=start / 1000, end=end))
    assert got == events.expected([1], lambda i, c, t: t >= start and c < 31)
    assert got


def test_columns_selects_and_orders(events):
    reader = replay(events.root, "events", shards=["2"], columns=["data", "partition_key"])
    assert reader.schema.names == ["data", "partition_key"]
    assert reader.schema.metadata == RECORD_SCHEMA.metadata
    assert rows(reader) == [{"data": r["data"], "partition_key": r["partition_key"]} for r in events.expected([2])]


def test_estimate_records_counts_exactly(events):
    for kwargs in ({}, {"start": (T0 + 100) / 1000, "end": (T0 + 300) / 1000}, {"start": sequence_number(0, 7)}):
        plan = ReplayPlan(events.root, "events", **kwargs)
        assert plan.estimate_records() == plan.reader().read_all().num_rows


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "yesterday"}, "start 'yesterday' is not a sequence number (56 digits)"),
        ({"end": [1]}, "end must be a datetime, epoch seconds or a sequence number, not list"),
        ({"start": True}, "start must be a datetime, epoch seconds or a sequence number, not bool"),
        ({"start": T0}, f"start {T0} is not a time in epoch seconds"),
        ({"end": float("nan")}, "end nan is not a time in epoch seconds"),
        (
            {"start": (T0 + 10) / 1000, "end": T0 / 1000},
            "start 2023-11-14T22:14:20.010000+00:00 is after end 2023-11-14T22:14:20+00:00",
        ),
        (
            {"start": sequence_number(0, 9), "end": sequence_number(0, 8)},
            f"start sequence number {sequence_number(0, 9)} is after end sequence number {sequence_number(0, 8)}",
        ),
        (
            {"start": sequence_number(0, 1), "end": sequence_number(1, 8)},
            "start and end sequence numbers encode different shards (shardId-000000000000 and shardId-000000000001)",
        ),
        (
            {"start": sequence_number(7, 1)},
            f"start sequence number {sequence_number(7, 1)} did not come from stream events under account "
            "000000000000 (it encodes shardId-000000000007",
        ),
        (
            {"end": sequence_number(2, 1)},  # shard 2's number, but with shard 0's creation time
            f"end sequence number {sequence_number(2, 1)} did not come from stream events",
        ),
        (
            {"start": sequence_number(1, 1), "shards": ["0", "2"]},
            "the sequence-number bound encodes shardId-000000000001, which is not among the shards requested "
            "(shardId-000000000000, shardId-000000000002)",
        ),
        ({"columns": ["data", "counter"]}, "unknown column 'counter': the record columns are shard_id,"),
    ],
)
def test_invalid_arguments(events, kwargs, message):
    with pytest.raises(InvalidArgumentException) as info:
        replay(events.root, "events", **kwargs)
    assert str(info.value).startswith(message)


def test_missing_stream_and_data_dir(events, tmp_path):
    for root in (events.root, tmp_path / "nowhere"):
        with pytest.raises(ResourceNotFoundException) as info:
            replay(root, "nope")
        assert str(info.value) == "Stream nope under account 000000000000 not found."


def test_missing_stream_names_the_engine_account(tmp_path):
    make_events(tmp_path, account="123456789012")
    with pytest.raises(ResourceNotFoundException) as info:
        replay_dataset(tmp_path, "nope")
    assert str(info.value) == "Stream nope under account 123456789012 not found."
    with pytest.raises(ResourceNotFoundException) as info:
        replay(tmp_path, "events", shards=["shardId-9"])
    assert str(info.value) == "Shard shardId-000000000009 in stream events under account 123456789012 does not exist"


@pytest.mark.parametrize(
    ("shard", "shown"), [("shardId-000000000004", "shardId-000000000004"), ("shardId-x", "shardId-x")]
)
def test_unknown_shard(events, shard, shown):
    with pytest.raises(ResourceNotFoundException) as info:
        replay(events.root, "events", shards=["0", shard])
    assert str(info.value) == f"Shard {shown} in stream events under account 000000000000 does not exist"


def snapshot(directory: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_torn_newest_segment_is_read_to_its_last_batch_and_left_alone(tmp_path):
    stored = make_events(tmp_path)
    directory = shard_dir(stored.stream_dir, 0)
    log = SegmentLog(directory, max_segment_bytes=1 << 20)  # reopening seals the old newest segment
    log.append(record_batch(0, [61, 62, 63], [T0 + 700] * 3))
    log.sync()
    log.abandon()  # a crash: the newest segment has no end-of-stream marker
    newest = max(directory.iterdir())
    with open(newest, "ab") as f:
        f.write(b"\xff\xff\xff\xff\x40\x01\x00\x00torn message")
    before = snapshot(directory)
    got = rows(replay(tmp_path, "events", shards=["0"]))
    assert [counter_of(r) for r in got] == list(range(1, 64))
    assert snapshot(directory) == before


def test_reads_a_directory_a_live_log_is_writing(tmp_path):
    stored = make_events(tmp_path)
    with SegmentLog(shard_dir(stored.stream_dir, 2)) as live:
        live.append(record_batch(2, [26, 27], [SPLIT_MS + 500] * 2, SPLIT_MS))
        live.sync()
        plan = ReplayPlan(tmp_path, "events", shards=["2"])
        assert plan.estimate_records() == 27  # opens the shard: its records so far
        live.append(record_batch(2, [28], [SPLIT_MS + 600], SPLIT_MS))
        live.sync()
        assert [counter_of(r) for r in rows(plan.reader())] == list(range(1, 28))
        assert [counter_of(r) for r in rows(replay(tmp_path, "events", shards=["2"]))] == list(range(1, 29))


# -- datasets ---------------------------------------------------------------------------------


def test_dataset_through_duckdb_and_polars(events):
    dataset = replay_dataset(events.root, "events")
    assert dataset.schema.equals(RECORD_SCHEMA)
    assert rows(dataset.to_table()) == events.expected()
    wanted = sorted(
        (r["sequence_number"], r["data"]) for r in events.expected() if r["partition_key"] in ("key-0-1", "key-2-3")
    )
    con = duckdb.connect()
    con.register("events", dataset)
    sql = "select sequence_number, data from events where partition_key in ('key-0-1', 'key-2-3')"
    assert sorted(con.execute(sql).fetchall()) == wanted
    counts = con.execute("select shard_id, count(*) from events group by 1 order by 1").fetchall()
    assert counts == [(shard_id(0), 60), (shard_id(1), 40), (shard_id(2), 25)]
    frame = (
        pl.scan_pyarrow_dataset(dataset)
        .filter(pl.col("partition_key").is_in(["key-0-1", "key-2-3"]))
        .select("sequence_number", "data")
        .collect()
    )
    assert sorted(frame.iter_rows()) == wanted
    assert pl.from_arrow(dataset.to_table()).height == 125  # the dataset can be scanned again


# -- property: any [start, end) --------------------------------------------------------------


@pytest.fixture(scope="module")
def gappy(tmp_path_factory) -> Stored:
    """Two shards with gaps between counters, repeated arrival times and many small segments."""
    rng = random.Random(5)
    shards = {}
    for index in (0, 1):
        counters, arrivals, c, t = [], [], 0, T0
        for _ in range(80):
            c += rng.randint(1, 3)
            t += rng.choice([0, 0, 1, 7])
            counters.append(c)
            arrivals.append(t)
        batches, i = [], 0
        while i < len(counters):
            n = rng.randint(1, 9)
            batches.append(record_batch(index, counters[i : i + n], arrivals[i : i + n]))
            i += n
        shards[index] = batches
    return write_stream(
        tmp_path_factory.mktemp("gappy"), "gappy", shards, [shard_doc(0), shard_doc(1)], max_segment_bytes=1500
    )


bounds = st.one_of(
    st.none(),
    st.tuples(st.just("seq"), st.integers(0, 250)),
    st.tuples(st.just("time"), st.integers(T0 - 3, T0 + 300)),
)


@FAST
@given(shard=st.sampled_from([0, 1]), start=bounds, end=bounds)
def test_any_range_returns_exactly_the_records_in_it(gappy, shard, start, end):
    def argument(bound):
        if bound is None:
            return None
        kind, value = bound
        return sequence_number(shard, value) if kind == "seq" else ms_to_datetime(value)

    def inside(bound, counter, arrival, lower):
        if bound is None:
            return True
        value = counter if bound[0] == "seq" else arrival
        return value >= bound[1] if lower else value < bound[1]

    if start is not None and end is not None and start[0] == end[0] and start[1] > end[1]:
        with pytest.raises(InvalidArgumentException):
            replay(gappy.root, "gappy", start=argument(start), end=argument(end))
        return
    shards = [shard] if any(b is not None and b[0] == "seq" for b in (start, end)) else None
    expected = gappy.expected(shards, lambda i, c, t: inside(start, c, t, True) and inside(end, c, t, False))
    plan = ReplayPlan(gappy.root, "gappy", start=argument(start), end=argument(end))
    assert plan.estimate_records() >= len(expected)
    assert rows(plan.reader()) == expected


# -- the command line -------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(main, ["replay", *args])


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".feather"])
def test_cli_writes_arrow_schema_formats(events, tmp_path, suffix):
    out = tmp_path / f"events{suffix}"
    result = invoke(str(events.root), "events", "-o", str(out))
    assert result.exit_code == 0, result.output
    fmt = "parquet" if suffix == ".parquet" else "arrow"
    assert result.stdout == f"Wrote 125 records from 4 shard(s) of events to {out} ({fmt}).\n"
    table = pq.read_table(out) if fmt == "parquet" else pa.ipc.open_file(out).read_all()
    assert table.schema.equals(RECORD_SCHEMA)
    assert rows(table) == events.expected()
    frame = pl.read_parquet(out) if fmt == "parquet" else pl.read_ipc(out)  # one dictionary per IPC file
    assert frame.height == 125
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_cli_writes_csv_with_base64_data(events, tmp_path):
    out = tmp_path / "events.csv"
    result = invoke(str(events.root), "events", "--shard", "shardId-000000000002", "--shard", "0", "-o", str(out))
    assert result.exit_code == 0, result.output
    types = {name: pa.string() for name in ("shard_id", "sequence_number", "partition_key", "data")}
    types["approximate_arrival_timestamp"] = pa.timestamp("ms", tz="UTC")
    table = pyarrow.csv.read_csv(out, convert_options=pyarrow.csv.ConvertOptions(column_types=types))
    got = [{**r, "data": base64.b64decode(r["data"], validate=True)} for r in table.to_pylist()]
    assert got == events.expected([0, 2])


def test_cli_time_and_sequence_bounds(events, tmp_path):
    start, end = T0 + 100, T0 + 300
    naive_iso = ms_to_datetime(start).replace(tzinfo=None).isoformat()
    out = tmp_path / "range.out"
    result = invoke(
        str(events.root), "events", "--start", naive_iso, "--end", str(end), "--format", "arrow", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert rows(pa.ipc.open_file(out).read_all()) == events.expected(keep=lambda i, c, t: start <= t < end)
    zulu = ms_to_datetime(start).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    result = invoke(str(events.root), "events", "--start", zulu, "--end", str(end), "-o", str(tmp_path / "z.arrow"))
    assert result.exit_code == 0, result.output
    assert rows(pa.ipc.open_file(tmp_path / "z.arrow").read_all()) == events.expected(
        keep=lambda i, c, t: start <= t < end
    )
    seqs = [sequence_number(1, 4), sequence_number(1, 9)]
    result = invoke(str(events.root), "events", "--start", seqs[0], "--end", seqs[1], "-o", str(tmp_path / "s.parquet"))
    assert result.exit_code == 0, result.output
    assert rows(pq.read_table(tmp_path / "s.parquet")) == events.expected([1], lambda i, c, t: 4 <= c < 9)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope", "-o", "x.parquet"], 1, "Error: Stream nope under account 000000000000 not found."),
        (
            ["events", "--shard", "7", "-o", "x.parquet"],
            1,
            "Error: Shard shardId-000000000007 in stream events under account 000000000000 does not exist",
        ),
        (
            ["events", "--start", sequence_number(0, 5), "--end", sequence_number(1, 5), "-o", "x.csv"],
            1,
            "different shards",
        ),
        (["events", "--start", "soon", "-o", "x.csv"], 2, "'soon' is neither an ISO-8601 time"),
        (["events", "-o", "x.txt"], 2, "cannot tell the format of 'x.txt' from its suffix"),
    ],
)
def test_cli_errors(events, tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = invoke(str(events.root), *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_as_a_subprocess_with_progress(events, tmp_path):
    out = tmp_path / "events.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "shardstream", "replay", str(events.root), "events", "-o", str(out), "--progress"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Wrote 125 records from 4 shard(s) of events to {out} (parquet).\n"
    assert rows(pq.read_table(out)) == events.expected()
