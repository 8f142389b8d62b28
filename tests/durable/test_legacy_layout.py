"""Data directories written before sequence numbers took AWS's layout still open and read.

The fixture is built by hand: a stream directory whose ``stream.json`` has no
``sequence_layout`` and whose segments hold numbers in shardstream's old
layout, made by the old formatter kept here.
"""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pytest

import shardstream
from shardstream.errors import InvalidArgumentException
from shardstream.history import replay
from shardstream.schema import RECORD_SCHEMA
from shardstream.sequence import LEGACY_VERSION, parse_sequence_number, sequence_counter
from shardstream.storage import SegmentLog, write_json_atomic
from shardstream.storage.layout import STREAM_FILE, find_stream, shard_dir

N = 30
T0 = 1_760_000_000_000


class Clock:
    def __init__(self, t: int = T0):
        self.t = t

    def __call__(self) -> int:
        return self.t


def old_number(created_s: int, index: int, salt: int, counter: int) -> str:
    """The pre-2026 layout: ``49 | creation s (10) | shard index (10) | salt (5) | counter (29)``."""
    return f"49{created_s:010d}{index:010d}{salt:05d}{counter:029d}"


def arrival_ms(shard: dict, counter: int) -> int:
    return shard["created_ms"] + 700 * counter


def build_old_data_dir(root) -> dict:
    """An engine's data directory with stream "old" (2 shards, N records each) in the old layout."""
    with shardstream.Engine(data_dir=root, clock=Clock()) as engine:
        engine.create_stream("old", 2)
    stored = find_stream(root, "old")
    doc = dict(stored.doc)
    assert doc.pop("sequence_layout") == 2  # what new streams record
    write_json_atomic(stored.path / STREAM_FILE, doc)
    salt = doc["incarnation"] % 100_000
    for shard in doc["shards"]:
        index, created_s = shard["index"], shard["created_ms"] // 1000
        directory = shard_dir(stored.path, index)
        shutil.rmtree(directory, ignore_errors=True)
        counters = range(1, N + 1)
        batch = pa.RecordBatch.from_arrays(
            [
                pa.DictionaryArray.from_arrays(pa.array(np.zeros(N, np.int32)), pa.array([f"shardId-{index:012d}"])),
                pa.array([old_number(created_s, index, salt, c) for c in counters], pa.string()),
                pa.array([f"key-{c}" for c in counters], pa.string()),
                pa.array([b"%d/%d" % (index, c) for c in counters], pa.binary()),
                pa.array([arrival_ms(shard, c) for c in counters], pa.timestamp("ms", tz="UTC")),
            ],
            schema=RECORD_SCHEMA,
        )
        with SegmentLog(directory, 1024) as log:
            log.append(batch)  # counters parsed from the old strings
    return doc


@pytest.fixture
def old_dir(tmp_path):
    return tmp_path, build_old_data_dir(tmp_path)


def check_new_layout(numbers: list[str], doc: dict, index: int, counters) -> None:
    shard = doc["shards"][index]
    assert [int(a) < int(b) for a, b in zip(numbers, numbers[1:])] == [True] * (len(numbers) - 1)
    for text, counter in zip(numbers, counters):
        parsed = parse_sequence_number(text)
        assert parsed.version == 2
        assert (parsed.shard_index, parsed.counter) == (index, counter)
        assert parsed.shard_created_s == shard["created_ms"] // 1000
        assert parsed.arrival_s == arrival_ms(shard, counter) // 1000


def test_old_data_directory_opens_and_reads_in_the_new_layout(old_dir):
    root, doc = old_dir
    salt = doc["incarnation"] % 100_000
    with shardstream.Engine(data_dir=root, clock=Clock(T0 + 60_000)) as engine:
        s = engine.stream("old")
        assert s.sequence_layout == LEGACY_VERSION
        table = s.read_table()
        assert table.num_rows == 2 * N
        for index in (0, 1):
            sid = f"shardId-{index:012d}"
            mine = table.filter(pa.compute.equal(table.column("shard_id").cast(pa.string()), sid))
            assert mine.column("data").to_pylist() == [b"%d/%d" % (index, c) for c in range(1, N + 1)]
            numbers = mine.column("sequence_number").to_pylist()
            check_new_layout(numbers, doc, index, range(1, N + 1))
            # GetRecords from the disk path
            it = s.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"]
            assert [r["SequenceNumber"] for r in s.get_records(it)["Records"]] == numbers
            # checkpoints and bookmarks in the old layout still position iterators
            created_s = doc["shards"][index]["created_ms"] // 1000
            old10 = old_number(created_s, index, salt, 10)
            at = s.get_shard_iterator(sid, "AT_SEQUENCE_NUMBER", old10)["ShardIterator"]
            assert s.get_records(at, limit=1)["Records"][0]["SequenceNumber"] == numbers[9]
            after = s.get_shard_iterator(sid, "AFTER_SEQUENCE_NUMBER", old10)["ShardIterator"]
            assert s.get_records(after, limit=1)["Records"][0]["SequenceNumber"] == numbers[10]
            assert s.read_batch(sid, "AFTER_SEQUENCE_NUMBER", old10).num_rows == N - 10
            # ... but not another incarnation's
            foreign = old_number(created_s, index, (salt + 1) % 100_000, 10)
            with pytest.raises(InvalidArgumentException, match="because it did not come from this stream"):
                s.get_shard_iterator(sid, "AT_SEQUENCE_NUMBER", foreign)
        # new records continue the counters in the new layout, above every old number
        created_s = doc["shards"][0]["created_ms"] // 1000
        old_last = old_number(created_s, 0, salt, N)
        new = s.put_record(b"new", "k", explicit_hash_key="0", sequence_number_for_ordering=old_last)
        assert sequence_counter(new["SequenceNumber"]) == N + 1
        assert parse_sequence_number(new["SequenceNumber"]).version == 2
        assert int(new["SequenceNumber"]) > int(old_last)
        with pytest.raises(InvalidArgumentException):  # an old number from the future
            s.put_record(b"x", "k", sequence_number_for_ordering=old_number(created_s, 0, salt, N + 5))
        # a stream created now does not take old-layout numbers
        fresh = engine.create_stream("fresh", 1)
        fresh_created_s = fresh.shards[0].created_ms // 1000
        with pytest.raises(InvalidArgumentException, match="because it did not come from this stream"):
            fresh.get_shard_iterator("shardId-000000000000", "AT_SEQUENCE_NUMBER",
                                     old_number(fresh_created_s, 0, fresh.salt, 0))
    # replay converts too, and the layout survives another reopen
    stored = find_stream(root, "old")
    assert stored.doc["sequence_layout"] == LEGACY_VERSION
    replayed = replay(root, "old", ["shardId-000000000001"]).read_all()
    check_new_layout(replayed.column("sequence_number").to_pylist(), doc, 1, range(1, N + 1))
    start = old_number(doc["shards"][1]["created_ms"] // 1000, 1, salt, 25)
    assert replay(root, "old", start=start).read_all().num_rows == N - 24
    with shardstream.Engine(data_dir=root, clock=Clock(T0 + 120_000)) as engine:
        s = engine.stream("old")
        assert s.read_table().num_rows == 2 * N + 1
        assert find_stream(root, "fresh").doc["sequence_layout"] == 2
