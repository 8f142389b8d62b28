"""Engine(data_dir=...): what survives a reopen, the ring as a cache of the segments,
retention on disk, the durability policies and group commit."""

from __future__ import annotations

import os
import threading
import time

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.durable import DurableStream, counter_gap
from shardstream.errors import InvalidArgumentException, ResourceNotFoundException
from shardstream.sequence import sequence_counter
from shardstream.storage import SegmentLog, layout

T0 = 1_700_000_000_000
MIB = 1024 * 1024
SMALL_RING = 2 * MIB  # the least a 1 MiB max record size allows


class Clock:
    def __init__(self, t: int = T0):
        self.t = t

    def __call__(self) -> int:
        return self.t


def records(n: int, start: int = 0, size: int = 100):
    keys = pa.array([f"key-{i}" for i in range(start, start + n)])
    data = pa.array([(b"%012d" % i) * (size // 12 + 1) for i in range(start, start + n)], pa.binary())
    return keys, data


def written_by_shard(table: pa.Table) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for row in table.to_pylist():
        out.setdefault(row["shard_id"], []).append((row["sequence_number"], row["partition_key"], row["data"]))
    return out


def stored_rows(stream) -> dict[str, list[tuple]]:
    return written_by_shard(stream.read_table())


def page_all(stream, shard_id: str, iterator_type: str = "TRIM_HORIZON", **kw) -> list[dict]:
    it = stream.get_shard_iterator(shard_id, iterator_type, **kw)["ShardIterator"]
    out = []
    while it is not None:
        resp = stream.get_records(it, limit=777)
        out.extend(resp["Records"])
        it = resp.get("NextShardIterator")
        if not resp["Records"] and resp["MillisBehindLatest"] == 0:
            break
    return out


# -- reopening --------------------------------------------------------------------------


def test_reopen_restores_records_settings_and_lineage(tmp_path):
    clock = Clock()
    keys = {"alias/aws/kinesis": "00" * 32}  # a durable stream encrypts only with a key from a key store
    with shardstream.Engine(data_dir=tmp_path, clock=clock, keys=keys) as engine:
        s = engine.create_stream("orders", shard_count=2, tags={"team": "data"}, max_record_size_kib=2048)
        first = s.put_batch(*records(1000))
        s.split_shard("shardId-000000000000", str(2**126))
        s.merge_shards("shardId-000000000003", "shardId-000000000001")
        second = s.put_batch(*records(500, start=1000))
        s.increase_stream_retention_period(48)
        s.start_stream_encryption("KMS", "alias/aws/kinesis")
        s.enable_enhanced_monitoring(["IncomingBytes"])
        s.put_resource_policy('{"Version": "2012-10-17"}')
        s.add_tags_to_stream({"env": "test"})
        before = s.describe()["StreamDescription"]
        summary = s.describe_summary()["StreamDescriptionSummary"]
        rows = stored_rows(s)
        iterator = s.get_shard_iterator("shardId-000000000002", "TRIM_HORIZON")["ShardIterator"]
    assert sum(len(v) for v in rows.values()) == 1500

    with shardstream.Engine(data_dir=tmp_path, clock=clock, keys=keys) as engine:
        s = engine.stream("orders")
        assert isinstance(s, DurableStream)
        assert s.describe()["StreamDescription"] == before
        assert s.describe_summary()["StreamDescriptionSummary"] == summary
        assert s.tags == {"team": "data", "env": "test"}
        assert s.get_resource_policy()["Policy"] == '{"Version": "2012-10-17"}'
        assert stored_rows(s) == rows
        # the iterator taken before the restart still works (the signing secret is kept)
        got = s.get_records(iterator)["Records"]
        assert [r["SequenceNumber"] for r in got] == [seq for seq, *_ in rows["shardId-000000000002"]]
        # sequence numbers continue above the old ones, in the same shard
        for table in (first, second):
            for shard_id, seq in zip(table.column("shard_id").to_pylist(), table.column("sequence_number").to_pylist()):
                assert any(r[0] == seq for r in rows[shard_id])
        new = s.put_record(b"after", "key-0")
        old = [sequence_counter(seq) for seq, *_ in rows[new["ShardId"]]]
        assert sequence_counter(new["SequenceNumber"]) == max(old) + 1  # a clean close: numbering continues exactly
        assert int(new["SequenceNumber"]) > max(int(seq) for seq, *_ in rows[new["ShardId"]])


def test_old_sequence_numbers_and_timestamps_still_locate_records(tmp_path):
    clock = Clock()
    with shardstream.Engine(data_dir=tmp_path, clock=clock) as engine:
        s = engine.create_stream("s", shard_count=1)
        seqs = []
        for i in range(50):
            clock.t = T0 + 1000 * i
            seqs.append(s.put_record(b"r%d" % i, "k")["SequenceNumber"])
    clock.t += 1000
    with shardstream.Engine(data_dir=tmp_path, clock=clock) as engine:
        s = engine.stream("s")
        assert s.logs[0].count == 0  # nothing in memory: every read below comes from the segments
        at = page_all(s, "shardId-000000000000", "AT_SEQUENCE_NUMBER", starting_sequence_number=seqs[10])
        assert [r["Data"] for r in at] == [b"r%d" % i for i in range(10, 50)]
        after = page_all(s, "shardId-000000000000", "AFTER_SEQUENCE_NUMBER", starting_sequence_number=seqs[10])
        assert after[0]["Data"] == b"r11"
        ts = page_all(s, "shardId-000000000000", "AT_TIMESTAMP", timestamp=(T0 + 20_500) / 1000)
        assert ts[0]["Data"] == b"r21"
        assert ts[0]["ApproximateArrivalTimestamp"].timestamp() * 1000 == T0 + 21_000
        batch = s.read_batch("shardId-000000000000", "AT_SEQUENCE_NUMBER", seqs[5], limit=3)
        assert batch.column("data").to_pylist() == [b"r5", b"r6", b"r7"]
        wire = s.get_records(
            s.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"], limit=1, wire=True
        )["Records"][0]
        assert wire["Data"] == "cjA=" and wire["ApproximateArrivalTimestamp"] == T0 / 1000
        assert s.put_record(b"next", "k")["SequenceNumber"] > seqs[-1]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("batch"), st.integers(1, 3000), st.integers(0, 400)),
            st.tuples(st.just("record"), st.integers(1, 20), st.integers(0, 3000)),
            st.tuples(st.just("reopen"), st.just(0), st.just(0)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_property_reads_return_exactly_what_was_written(tmp_path_factory, ops):
    """Whatever the mix of puts and reopens, a durable stream reads back every record, in order."""
    root = tmp_path_factory.mktemp("prop")
    engine = shardstream.Engine(data_dir=root, shard_capacity_bytes=SMALL_RING, max_segment_bytes=64 * 1024)
    s = engine.create_stream("p", shard_count=3)
    expected: dict[str, list[tuple]] = {}
    n = 0
    try:
        for kind, count, size in ops:
            if kind == "reopen":
                engine.close()
                engine = shardstream.Engine(data_dir=root, shard_capacity_bytes=SMALL_RING)
                s = engine.stream("p")
                continue
            if kind == "batch":
                keys, data = records(count, n, size)
                result = s.put_batch(keys, data)
                for shard, seq, key, value in zip(
                    result.column("shard_id").to_pylist(),
                    result.column("sequence_number").to_pylist(),
                    keys.to_pylist(),
                    data.to_pylist(),
                ):
                    expected.setdefault(shard, []).append((seq, key, value))
            else:
                for i in range(n, n + count):
                    value = b"x" * size + b"%d" % i
                    r = s.put_record(value, f"key-{i}")
                    expected.setdefault(r["ShardId"], []).append((r["SequenceNumber"], f"key-{i}", value))
            n += count
        assert stored_rows(s) == expected
        for shard_id, rows in expected.items():
            assert [r["SequenceNumber"] for r in page_all(s, shard_id)] == [seq for seq, *_ in rows]
    finally:
        engine.close()


# -- the ring as a cache ------------------------------------------------------------------


def test_ring_evicts_only_what_is_on_disk_and_reads_fall_back_to_segments(tmp_path):
    with shardstream.Engine(
        data_dir=tmp_path, shard_capacity_bytes=SMALL_RING, max_segment_bytes=128 * 1024, durability="none"
    ) as engine:
        s = engine.create_stream("s", shard_count=1)
        keys, data = records(60_000)  # ~7 MB: three times the ring
        s.put_batch(keys, data)  # bigger than the ring, yet accepted: it goes in pieces
        for i in range(200):
            s.put_record(b"tail-%d" % i, "k")
        log = s.logs[0]
        assert log.evicted_records > 0 and log.head > 1
        assert log.evict_limit <= log.tail
        assert len(s.store.segment_log(0).segments()) > 2
        table = s.read_table()
        assert table.num_rows == 60_200
        assert table.column("data").to_pylist()[:60_000] == data.to_pylist()
        assert [sequence_counter(x) for x in table.column("sequence_number").to_pylist()] == list(range(1, 60_201))
        got = page_all(s, "shardId-000000000000")
        assert [r["Data"] for r in got] == table.column("data").to_pylist()
        stats = s.shard_stats()[0]
        assert stats["EvictedRecords"] == log.evicted_records


def test_in_memory_stream_still_refuses_when_full(tmp_path):
    """Without a data_dir nothing changed: a full ring pushes back."""
    engine = shardstream.Engine(shard_capacity_bytes=SMALL_RING)
    s = engine.create_stream("s", shard_count=1)
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        s.put_batch(*records(30_000))
    assert s.logs[0].count == 0


# -- retention ----------------------------------------------------------------------------


def test_retention_deletes_whole_expired_segments(tmp_path):
    clock = Clock()
    with shardstream.Engine(data_dir=tmp_path, clock=clock, max_segment_bytes=32 * 1024) as engine:
        s = engine.create_stream("s", shard_count=1)
        for hour in range(30):
            clock.t = T0 + hour * 3_600_000
            s.put_batch(*records(200, start=hour * 200))
        seglog = s.store.segment_log(0)
        before = seglog.segments()
        clock.t = T0 + 30 * 3_600_000
        deleted = s.store.maintain(clock(), 24 * 3_600_000)
        after = seglog.segments()
        assert deleted == len(before) - len(after) > 0
        assert all(info.last_arrival_ms >= clock.t - 24 * 3_600_000 for info in after[:-1])
        # reads never show records older than the retention period, from memory or disk
        cutoff = clock.t - 24 * 3_600_000
        table = s.read_table()
        arrivals = table.column("approximate_arrival_timestamp").cast(pa.int64()).to_pylist()
        assert arrivals and min(arrivals) >= cutoff
        assert table.num_rows == sum(1 for h in range(30) if T0 + h * 3_600_000 >= cutoff) * 200


def test_segments_roll_by_age(tmp_path):
    clock = Clock()
    with shardstream.Engine(data_dir=tmp_path, clock=clock) as engine:
        s = engine.create_stream("s", shard_count=1)
        s.put_record(b"a", "k")
        s.store.maintain(clock(), 24 * 3_600_000)
        assert [i.sealed for i in s.store.segment_log(0).segments()] == [False]
        clock.t += s.store.max_segment_age_ms + 1
        s.store.maintain(clock(), 24 * 3_600_000)
        s.put_record(b"b", "k")
        assert [i.sealed for i in s.store.segment_log(0).segments()] == [True, False]


# -- durability policies ---------------------------------------------------------------------


def on_disk(engine, name: str, index: int = 0) -> list[bytes]:
    """The data of shard ``index`` as a second reader of the files sees it (read-only)."""
    stored = layout.find_stream(engine.data_dir, name)
    log = SegmentLog(stored.shard_dir(index), readonly=True)
    return log.read(0).read_all().column("data").to_pylist()


def test_sync_put_is_on_disk_when_it_returns(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, flush_interval_ms=60_000) as engine:
        s = engine.create_stream("s", shard_count=1)
        s.put_record(b"one", "k")
        assert on_disk(engine, "s") == [b"one"]
        s.put_records([{"Data": b"two", "PartitionKey": "k"}, {"Data": b"three", "PartitionKey": "k"}])
        assert on_disk(engine, "s") == [b"one", b"two", b"three"]


@pytest.mark.parametrize("policy", ["interval", "none"])
def test_background_policies_write_within_the_interval(tmp_path, policy):
    with shardstream.Engine(data_dir=tmp_path, durability=policy, flush_interval_ms=20) as engine:
        s = engine.create_stream("s", shard_count=1)
        assert s.durability == policy
        s.put_record(b"one", "k")
        deadline = time.monotonic() + 5
        while on_disk(engine, "s") != [b"one"]:
            assert time.monotonic() < deadline, "the background writer never wrote the record"
            time.sleep(0.01)


def test_per_stream_policy_and_bad_arguments(tmp_path):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.create_stream("a", shard_count=1, durability="none").durability == "none"
        assert engine.create_stream("b", shard_count=1).durability == "sync"
        with pytest.raises(InvalidArgumentException, match="durability must be one of sync, interval, none"):
            engine.create_stream("c", shard_count=1, durability="always")
        assert "c" not in engine
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream("a").durability == "none"
    with pytest.raises(InvalidArgumentException, match="needs an engine with a data_dir"):
        shardstream.Engine().create_stream("x", shard_count=1, durability="sync")
    with pytest.raises(InvalidArgumentException, match="durability must be one of"):
        shardstream.Engine(data_dir=tmp_path / "other", durability="fast")


def test_group_commit_shares_fsyncs(tmp_path, monkeypatch):
    """Concurrent sync writers wait for one flush together instead of one fsync each."""
    calls = []
    real_fsync = os.fsync

    def slow_fsync(fd):
        calls.append(fd)
        time.sleep(0.005)  # a slow disk, so that writers pile up behind a flush
        real_fsync(fd)

    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.create_stream("s", shard_count=1)
        monkeypatch.setattr(os, "fsync", slow_fsync)
        threads, per_thread, acks = 8, 25, []

        def writer(t):
            for i in range(per_thread):
                acks.append(s.put_record(b"%d-%d" % (t, i), "k")["SequenceNumber"])

        workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert len(acks) == threads * per_thread
        assert len(calls) < threads * per_thread / 2
        assert sorted(on_disk(engine, "s")) == sorted(
            b"%d-%d" % (t, i) for t in range(threads) for i in range(per_thread)
        )


# -- lifecycle ----------------------------------------------------------------------------------


def test_delete_removes_files_and_recreate_starts_fresh(tmp_path):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.create_stream("s", shard_count=1)
        s.put_record(b"old", "k")
        old_dir = s.store.path
        engine.delete_stream("s")
        assert not old_dir.exists()
        s2 = engine.create_stream("s", shard_count=2)
        assert s2.store.path != old_dir
        s2.put_record(b"new", "k")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.list_streams()["StreamNames"] == ["s"]
        assert engine.stream("s").read_table().column("data").to_pylist() == [b"new"]
        engine.delete_stream("s")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.list_streams()["StreamNames"] == []
        with pytest.raises(ResourceNotFoundException):
            engine.stream("s")


def test_closed_engine_refuses_writes(tmp_path):
    engine = shardstream.Engine(data_dir=tmp_path)
    s = engine.create_stream("s", shard_count=1)
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(ValueError, match="engine is closed"):
        s.put_record(b"x", "k")
    with pytest.raises(ValueError, match="engine is closed"):
        s.put_batch(*records(3))
    with pytest.raises(ValueError, match="engine is closed"):
        engine.create_stream("t", shard_count=1)


def test_crash_skips_counters_past_anything_handed_out(tmp_path):
    engine = shardstream.Engine(data_dir=tmp_path, durability="none", flush_interval_ms=60_000)
    s = engine.create_stream("s", shard_count=1)
    last = s.put_record(b"persisted", "k")["SequenceNumber"]
    s.flush(sync=True)
    lost = s.put_record(b"only in memory", "k")["SequenceNumber"]
    engine._crash()
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.stream("s")
        assert s.read_table().column("data").to_pylist() == [b"persisted"]
        new = s.put_record(b"after", "k")["SequenceNumber"]
        assert int(new) > int(lost)
        assert sequence_counter(new) == sequence_counter(last) + 1 + counter_gap(s.shard_capacity_bytes)


def test_account_settings_and_regions_persist(tmp_path):
    clock = Clock()
    with shardstream.Engine(data_dir=tmp_path / "us-east-1", clock=clock) as engine:
        engine.update_account_settings({"Status": "ENABLED"})
        other = engine.for_region("eu-west-1")
        assert other.data_dir == (tmp_path / "eu-west-1").absolute()
        other.create_stream("eu", shard_count=1).put_record(b"x", "k")
        other.close()
    with shardstream.Engine(data_dir=tmp_path / "us-east-1", clock=clock) as engine:
        assert engine.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"
        assert engine.list_streams()["StreamNames"] == []
    with shardstream.Engine(data_dir=tmp_path / "eu-west-1", region="eu-west-1", clock=clock) as engine:
        assert engine.stream("eu").read_table().num_rows == 1


def test_a_flush_pass_stops_at_the_tail_it_started_with(tmp_path, monkeypatch):
    """Writers that keep appending cannot hold a flush (and its fsync) back indefinitely."""
    import shardstream._native as native

    with shardstream.Engine(data_dir=tmp_path, durability="none", flush_interval_ms=60_000) as engine:
        s = engine.create_stream("s", shard_count=1)
        for i in range(10):
            s.put_record(b"%d" % i, "k")
        real = native.read_arrow_batch
        calls = []

        def read_then_append(log, start, limit, max_bytes, now, *rest):
            calls.append(limit)
            s.put_record(b"late", "k")  # a writer racing the flush
            return real(log, start, 1, max_bytes, now, *rest)  # one record per read: many reads per pass

        monkeypatch.setattr(native, "read_arrow_batch", read_then_append)
        assert s.flush(sync=False) == 10
        assert len(calls) == 10
        monkeypatch.setattr(native, "read_arrow_batch", real)
        assert s.flush() == 10  # the late ones, next pass


def test_engine_left_open_is_closed_cleanly_at_exit(tmp_path):
    import subprocess
    import sys

    script = (
        "import sys, shardstream\n"
        "e = shardstream.Engine(data_dir=sys.argv[1], durability='interval', flush_interval_ms=60000)\n"
        "s = e.create_stream('s', shard_count=4)\n"
        "s.put_batch([f'k{i}' for i in range(1000)], [b'x'] * 1000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert shardstream.storage.read_json(tmp_path / "engine.json")["clean"] is True
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream("s").read_table().num_rows == 1000


def test_full_ring_with_nothing_writable_pushes_back_instead_of_spinning(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, shard_capacity_bytes=SMALL_RING, durability="none") as engine:
        s = engine.create_stream("s", shard_count=1)
        s.store.close(flush=False)  # the files are gone from under the stream (as during a close)
        with pytest.raises(shardstream.ProvisionedThroughputExceededException):
            for i in range(100):
                s.put_batch(*records(1000, start=i * 1000))


def _maintenance_threads() -> int:
    return sum(t.name == "shardstream-maintenance" for t in threading.enumerate())


def test_the_background_thread_starts_with_the_first_stream(tmp_path):
    before = _maintenance_threads()
    with shardstream.Engine(data_dir=tmp_path / "d") as engine:
        assert _maintenance_threads() == before  # nothing to flush yet: no thread
        engine.create_stream("s", shard_count=1)
        engine.create_stream("t", shard_count=1)
        assert _maintenance_threads() == before + 1  # one per engine, not per stream
    assert _maintenance_threads() == before
    with shardstream.Engine(data_dir=tmp_path / "d"):  # restored streams: started at once
        assert _maintenance_threads() == before + 1
    assert _maintenance_threads() == before
