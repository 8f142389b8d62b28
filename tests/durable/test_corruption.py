"""Damaged data directories: what a durable engine repairs, what it refuses, and that it never lies.

Each test fills a real data directory through the engine, closes it (or
simulates a crash), damages files by hand and reopens.  Segment-level damage
(SegmentLog alone) is covered in ``tests/storage/test_segments.py``; here the
question is what the *engine* does with it: which records a reopened stream
returns, whether numbering stays above them, and which errors name which file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pytest

import shardstream
from shardstream.sequence import sequence_counter
from shardstream.storage import CorruptSegmentError
from shardstream.storage.datadir import DataDirectoryLocked

MAX_SEGMENT_BYTES = 8 * 1024
CAPACITY = 2 * 1024 * 1024


def counter(sequence_number: str) -> int:
    return sequence_counter(sequence_number)


def record_data(i: int, j: int) -> bytes:
    return b"rec-%04d-%03d|" % (i, j) + bytes([97 + (i + j) % 26]) * (60 + (i * 7 + j * 13) % 200)


def rows(stream) -> dict[str, list[tuple[str, str, bytes]]]:
    """Every shard's (sequence number, partition key, data), via read_table."""
    table = stream.read_table()
    out: dict[str, list] = {s.shard_id: [] for s in stream.shards}
    for sid, seq, key, data in zip(
        table.column("shard_id").to_pylist(),
        table.column("sequence_number").to_pylist(),
        table.column("partition_key").to_pylist(),
        table.column("data").to_pylist(),
    ):
        out[sid].append((seq, key, data))
    return out


def paged(stream, shard_id: str) -> list[tuple[str, str, bytes]]:
    """One shard through get_records from TRIM_HORIZON until caught up."""
    it = stream.get_shard_iterator(shard_id, "TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(10_000):
        resp = stream.get_records(it, 37)
        out += [(r["SequenceNumber"], r["PartitionKey"], r["Data"]) for r in resp["Records"]]
        it = resp.get("NextShardIterator")
        if it is None or not resp["Records"]:
            return out
    raise AssertionError("get_records never caught up")


def fill(data_dir, *, crash: bool = False) -> dict[str, dict]:
    """Two streams, several segments per shard; returns every stream's rows as written."""
    engine = shardstream.Engine(data_dir=data_dir, max_segment_bytes=MAX_SEGMENT_BYTES, shard_capacity_bytes=CAPACITY)
    main = engine.create_stream("main", 2)
    other = engine.create_stream("other", 1)
    for i in range(40):
        n = 3 + i % 9
        main.put_batch([f"k{i}-{j}" for j in range(n)], [record_data(i, j) for j in range(n)])
        if i % 4 == 0:
            other.put_record(record_data(1000 + i, 0), f"o{i}")
    expected = {"main": rows(main), "other": rows(other)}
    if crash:
        engine._crash()
    else:
        engine.close()
    return expected


def shard_dir(data_dir, stream: str, index: int) -> Path:
    (path,) = Path(data_dir, "streams").glob(f"{stream}.*")
    return path / "shards" / f"shardId-{index:012d}"


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.arrows"))


def messages(path: Path) -> list[tuple[str, int, int, int]]:
    """The IPC messages of a segment: (type, start, end of prefix + metadata, end)."""
    mm = pa.memory_map(str(path))
    try:
        reader = pa.ipc.MessageReader.open_stream(mm)
        out = []
        while True:
            start = mm.tell()
            try:
                message = reader.read_next_message()
            except StopIteration:
                return out
            out.append((message.type, start, start + 8 + message.metadata.size, mm.tell()))
    finally:
        mm.close()


def batch_last_counters(path: Path) -> list[int]:
    """The last counter of each record batch in a segment, in order."""
    with pa.memory_map(str(path)) as mm:
        return [int(b.column(b.num_columns - 1)[-1].as_py()) for b in pa.ipc.open_stream(mm)]


def flip(path: Path, offset: int) -> None:
    """Flip one byte in place (the file keeps its size and inode)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x20]))


def open_engine(data_dir):
    return shardstream.Engine(data_dir=data_dir, max_segment_bytes=MAX_SEGMENT_BYTES)


def check_intact(engine, expected: dict, skip=()) -> None:
    for name, by_shard in expected.items():
        got = rows(engine.stream(name))
        for sid, expected_rows in by_shard.items():
            if (name, sid) not in skip:
                assert got[sid] == expected_rows, f"{name} {sid}"


# -- the newest segment: torn tails are cut, the rest is intact ------------------------------------


def _cut_points(path: Path) -> dict[str, int]:
    msgs = messages(path)
    batches = [m for m in msgs if m[0] == "record batch"]
    assert len(batches) >= 3, "the newest segment should hold several batches"
    schema_end = msgs[0][3]
    mid, last = batches[len(batches) // 2], batches[-1]
    size = path.stat().st_size
    return {
        "mid-body-of-last-batch": (last[2] + last[3]) // 2,
        "mid-body-of-middle-batch": (mid[2] + mid[3]) // 2,
        "in-message-prefix": mid[1] + 5,
        "mid-metadata": (mid[1] + 8 + mid[2]) // 2,
        "at-batch-boundary": mid[3],
        "in-end-of-stream-marker": size - 3,
        "inside-schema": schema_end // 2,
        "inside-dictionary": (msgs[1][1] + msgs[1][3]) // 2,
        "empty-file": 0,
    }


CUTS = [
    "mid-body-of-last-batch",
    "mid-body-of-middle-batch",
    "in-message-prefix",
    "mid-metadata",
    "at-batch-boundary",
    "in-end-of-stream-marker",
    "inside-schema",
    "inside-dictionary",
    "empty-file",
]


@pytest.mark.parametrize("crash", [False, True], ids=["after-close", "after-crash"])
@pytest.mark.parametrize("cut", CUTS)
def test_truncated_newest_segment_keeps_the_records_before_the_cut_after_a_crash(tmp_path, cut, crash):
    expected = fill(tmp_path, crash=crash)
    directory = shard_dir(tmp_path, "main", 0)
    files = segment_files(directory)
    assert len(files) >= 3
    newest = files[-1]
    offset = _cut_points(newest)[cut]
    ends = [m[3] for m in messages(newest) if m[0] == "record batch"]
    complete = sum(1 for end in ends if end <= offset)
    if complete:
        last = batch_last_counters(newest)[complete - 1]
    else:  # nothing complete survives: the file goes, the previous segment is the newest
        last = batch_last_counters(files[-2])[-1]
    with open(newest, "r+b") as f:
        f.truncate(offset)
    if not crash:
        # After a clean close every segment is sealed: a short newest segment is damage, not a torn
        # write, and cutting it back would drop synced records and hand their numbers out again.
        _assert_refused(tmp_path, newest)
        return

    sid = "shardId-000000000000"
    survivors = [r for r in expected["main"][sid] if counter(r[0]) <= last]
    assert survivors and (cut == "in-end-of-stream-marker" or len(survivors) < len(expected["main"][sid]))
    with open_engine(tmp_path) as engine:
        stream = engine.stream("main")
        assert rows(stream)[sid] == survivors
        assert paged(stream, sid) == survivors
        check_intact(engine, expected, skip={("main", sid)})
        assert newest.exists() == bool(complete)
        new = stream.put_record(b"after the cut", "new", explicit_hash_key="0")
        assert new["ShardId"] == sid and counter(new["SequenceNumber"]) > last
    # The repaired segment is a proper sealed one: a second reopen changes nothing.
    with open_engine(tmp_path) as engine:
        assert rows(engine.stream("main"))[sid] == [*survivors, (new["SequenceNumber"], "new", b"after the cut")]
        check_intact(engine, expected, skip={("main", sid)})


@pytest.mark.parametrize("crash", [False, True], ids=["after-close", "after-crash"])
@pytest.mark.parametrize("garbage", [b"\x00" * 100, b"\xff\xff\xff\xff\x10\x00\x00\x00partial", os.urandom(3000)])
def test_garbage_after_the_newest_segment_is_cut_away_after_a_crash(tmp_path, crash, garbage):
    expected = fill(tmp_path, crash=crash)
    newest = segment_files(shard_dir(tmp_path, "main", 1))[-1]
    size = newest.stat().st_size
    with open(newest, "ab") as f:
        f.write(garbage)
    if not crash:
        _assert_refused(tmp_path, newest)
        return
    with open_engine(tmp_path) as engine:
        check_intact(engine, expected)
        stream = engine.stream("main")
        assert paged(stream, "shardId-000000000001") == expected["main"]["shardId-000000000001"]
        last = counter(expected["main"]["shardId-000000000001"][-1][0])
        new = stream.put_record(b"x", "k", explicit_hash_key=str(2**128 - 1))
        assert counter(new["SequenceNumber"]) > last
    assert newest.stat().st_size <= size + 8  # cut back (plus an end-of-stream marker after a crash)


def _assert_refused(tmp_path, path: Path) -> None:
    """Reopening raises CorruptSegmentError naming ``path`` and leaves the file as it was."""
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(CorruptSegmentError) as info:
        open_engine(tmp_path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    assert (path.read_bytes() if path.exists() else None) == before


# -- sealed segments: damage is refused, naming the file -------------------------------------------


def _damage_sealed(tmp_path, how: str) -> tuple[Path, int]:
    """Damage the second segment of main's shard 0; returns (file, offset of the damage)."""
    files = segment_files(shard_dir(tmp_path, "main", 0))
    assert len(files) >= 3
    path = files[1]
    data = path.read_bytes()
    batches = [m for m in messages(path) if m[0] == "record batch"]
    if how == "data":
        offset = data.index(b"rec-", batches[1][2]) + 6  # a digit of a record's payload
        assert offset < batches[1][3]
    elif how == "sequence-number":
        # The sequence-number column of the first batch: its 56-digit strings start with "49".
        offset = data.index(b"49", batches[0][2]) + 40
    elif how == "counter-column":
        offset = batches[0][3] - 3  # the last bytes of a batch body: the counter column
    elif how == "metadata":
        offset = batches[1][1] + 4  # the metadata length of the second batch message
    elif how == "garbage-after-end":
        with open(path, "ab") as f:
            f.write(b"\x00garbage")
        return path, len(data)
    elif how == "truncated":
        offset = batches[-1][3]
        with open(path, "r+b") as f:
            f.truncate(offset)  # a clean message boundary, but the end-of-stream marker is gone
        return path, offset
    else:
        raise AssertionError(how)
    flip(path, offset)
    return path, offset


# Damage the structure shows is refused when the engine opens; damage only a batch's CRC-32 can see
# is refused when the segment is first read (opening does not checksum sealed segments, so that it
# costs a walk over message headers however much is stored).
@pytest.mark.parametrize(
    "how, when",
    [
        ("data", "read"),
        ("sequence-number", "read"),
        ("counter-column", "open"),
        ("metadata", "open"),
        ("garbage-after-end", "open"),
        ("truncated", "open"),
    ],
)
def test_damaged_sealed_segment_is_refused_naming_the_file(tmp_path, how, when):
    expected = fill(tmp_path)
    original = {p: p.read_bytes() for p in segment_files(shard_dir(tmp_path, "main", 0))}
    boundaries = {b for m in messages(segment_files(shard_dir(tmp_path, "main", 0))[1]) for b in (m[1], m[3])}
    path, offset = _damage_sealed(tmp_path, how)
    with pytest.raises(CorruptSegmentError) as info:
        if when == "open":
            open_engine(tmp_path)
        else:
            with open_engine(tmp_path) as engine:
                engine.stream("main").read_table()
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert 0 <= info.value.offset <= offset
    assert info.value.offset in boundaries  # the start of the bad message
    # Refusing did not hold on to the directory, nor change the segment files.
    for p in original:
        assert p.exists()
    path.write_bytes(original[path])
    with open_engine(tmp_path) as engine:
        check_intact(engine, expected)


def test_damage_after_open_is_caught_when_read(tmp_path):
    expected = fill(tmp_path)
    with open_engine(tmp_path) as engine:
        stream = engine.stream("main")
        path, offset = _damage_sealed(tmp_path, "data")
        with pytest.raises(CorruptSegmentError) as info:
            stream.read_table()
        assert info.value.path == str(path) and str(path) in str(info.value)
        with pytest.raises(CorruptSegmentError):
            paged(stream, "shardId-000000000000")
        # Shards and streams that do not touch the damage read normally.
        assert paged(stream, "shardId-000000000001") == expected["main"]["shardId-000000000001"]
        assert rows(engine.stream("other")) == expected["other"]
        # Records after the damaged segment are still reachable by sequence number.
        after = [r for r in expected["main"]["shardId-000000000000"] if counter(r[0]) > _last_counter(path)]
        it = stream.get_shard_iterator("shardId-000000000000", "AT_SEQUENCE_NUMBER", after[0][0])["ShardIterator"]
        got = stream.get_records(it, 5)["Records"]
        assert [(r["SequenceNumber"], r["PartitionKey"], r["Data"]) for r in got] == after[:5]
        flip(path, offset)  # undo, so that the clean close finds nothing wrong


def _last_counter(path: Path) -> int:
    return batch_last_counters(path)[-1]


def test_a_flipped_byte_in_the_newest_segment_never_returns_wrong_data(tmp_path):
    # Whatever recovery does with damage in the newest segment, a reopened stream returns
    # either an error or a prefix of what was written, never altered records.
    expected = fill(tmp_path)
    newest = segment_files(shard_dir(tmp_path, "main", 0))[-1]
    data = newest.read_bytes()
    flip(newest, data.index(b"rec-", [m for m in messages(newest) if m[0] == "record batch"][1][2]) + 6)
    try:
        engine = open_engine(tmp_path)
    except CorruptSegmentError as e:
        assert e.path == str(newest)
        return
    with engine:
        got = rows(engine.stream("main"))["shardId-000000000000"]
        full = expected["main"]["shardId-000000000000"]
        assert got == full[: len(got)]
        check_intact(engine, expected, skip={("main", "shardId-000000000000")})


def test_a_flipped_byte_in_a_cleanly_sealed_newest_segment_is_refused(tmp_path):
    expected = fill(tmp_path)
    newest = segment_files(shard_dir(tmp_path, "main", 0))[-1]
    batches = [m for m in messages(newest) if m[0] == "record batch"]
    assert len(batches) >= 3
    flip(newest, newest.read_bytes().index(b"rec-", batches[1][2]) + 6)
    try:
        engine = open_engine(tmp_path)
    except CorruptSegmentError as e:
        assert e.path == str(newest)
        return
    with engine:
        got = rows(engine.stream("main"))["shardId-000000000000"]
        lost = len(expected["main"]["shardId-000000000000"]) - len(got)
        new = engine.stream("main").put_record(b"new", "k", explicit_hash_key="0")["SequenceNumber"]
        reused = any(seq == new for seq, _, _ in expected["main"]["shardId-000000000000"])
    raise AssertionError(f"opened silently without {lost} acknowledged records; new record reuses a number: {reused}")


# -- metadata documents ------------------------------------------------------------------------------


def _stream_json(data_dir, name: str) -> Path:
    (path,) = Path(data_dir, "streams").glob(f"{name}.*")
    return path / "stream.json"


@pytest.mark.parametrize("content", [b"{not json", b"", b'{"format": 1, "name": "main"', b"\xff\xfe"])
def test_unreadable_stream_json_is_an_error_and_changes_nothing(tmp_path, content):
    expected = fill(tmp_path)
    path = _stream_json(tmp_path, "main")
    good = path.read_bytes()
    path.write_bytes(content)
    with pytest.raises(ValueError):  # json.JSONDecodeError / UnicodeDecodeError
        open_engine(tmp_path)
    assert path.read_bytes() == content and segment_files(shard_dir(tmp_path, "main", 0))
    path.write_bytes(good)  # the directory was released and nothing else was touched
    with open_engine(tmp_path) as engine:
        check_intact(engine, expected)


@pytest.mark.parametrize("document", ["stream.json", "engine.json"])
def test_unreadable_json_error_names_the_file(tmp_path, document):
    fill(tmp_path)
    path = _stream_json(tmp_path, "main") if document == "stream.json" else tmp_path / "engine.json"
    path.write_bytes(b"{not json")
    with pytest.raises(ValueError) as info:
        open_engine(tmp_path)
    assert str(path) in str(info.value)


def test_newer_stream_format_is_refused_naming_the_file(tmp_path):
    fill(tmp_path)
    path = _stream_json(tmp_path, "main")
    doc = json.loads(path.read_text())
    doc["format"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="format 99") as info:
        open_engine(tmp_path)
    assert str(path) in str(info.value)


def test_stream_directory_without_stream_json_is_removed_and_others_are_intact(tmp_path):
    expected = fill(tmp_path)
    doomed = _stream_json(tmp_path, "main").parent
    _stream_json(tmp_path, "main").unlink()
    # A creation cut short by a crash: directory and shard directory made, stream.json only a temp file.
    half = Path(tmp_path, "streams", "half.00000000000000ab")
    (half / "shards" / "shardId-000000000000").mkdir(parents=True)
    (half / ".stream.json.123.abcd.tmp").write_text("{")
    # And a deletion cut short: the stream is already in trash/.
    (tmp_path / "trash" / "gone.0000000000000001" / "shards").mkdir(parents=True)
    with open_engine(tmp_path) as engine:
        assert engine.list_streams()["StreamNames"] == ["other"]
        assert rows(engine.stream("other")) == expected["other"]
        assert not doomed.exists() and not half.exists()
        assert not (tmp_path / "trash" / "gone.0000000000000001").exists()
        # The name is free again, and the new stream starts empty.
        fresh = engine.create_stream("main", 1)
        assert fresh.read_table().num_rows == 0
        assert counter(fresh.put_record(b"a", "k")["SequenceNumber"]) == 1
    with open_engine(tmp_path) as engine:
        assert engine.list_streams()["StreamNames"] == ["main", "other"]


# -- the data directory as a whole ------------------------------------------------------------------


def test_second_engine_on_an_open_directory_is_locked_out(tmp_path):
    first = open_engine(tmp_path)
    try:
        stream = first.create_stream("s", 1)
        stream.put_record(b"before", "k")
        for _ in range(2):
            with pytest.raises(DataDirectoryLocked) as info:
                open_engine(tmp_path)
            assert str(tmp_path) in str(info.value) and f"process {os.getpid()}" in str(info.value)
        # The refused opens took nothing from the first engine.
        stream.put_record(b"after", "k")
        assert stream.read_table().column("data").to_pylist() == [b"before", b"after"]
    finally:
        first.close()
    with open_engine(tmp_path) as second:
        assert second.stream("s").read_table().column("data").to_pylist() == [b"before", b"after"]
    crashed = open_engine(tmp_path)
    crashed._crash()  # a crashed engine's lock is gone too
    with open_engine(tmp_path) as third:
        assert third.stream("s").read_table().num_rows == 2


@pytest.mark.parametrize("field", ["region", "account_id"])
@pytest.mark.parametrize("edited", [False, True], ids=["opened-as-other", "engine-json-edited"])
def test_directory_of_another_region_or_account_is_refused(tmp_path, field, edited):
    expected = fill(tmp_path)
    other = {"region": "eu-west-1", "account_id": "123456789012"}[field]
    own = {"region": "us-east-1", "account_id": "000000000000"}[field]
    if edited:
        path = tmp_path / "engine.json"
        doc = json.loads(path.read_text())
        doc[field] = other
        path.write_text(json.dumps(doc))
        kwargs = {}
        stored, asked = other, own
    else:
        kwargs = {field: other}
        stored, asked = own, other
    with pytest.raises(ValueError) as info:
        shardstream.Engine(data_dir=tmp_path, **kwargs)
    message = str(info.value)
    assert stored in message and asked in message and str(tmp_path) in message
    assert json.loads((tmp_path / "engine.json").read_text())[field] == stored  # untouched
    with shardstream.Engine(data_dir=tmp_path, **{field: stored}) as engine:
        check_intact(engine, expected)
