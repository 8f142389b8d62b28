"""Group commit without a blocked thread: ``StreamStore.commit_async`` and ``durable.nonblocking_puts``
(what the HTTP server uses for PutRecord on a durable engine)."""

from __future__ import annotations

import threading

import pytest

import shardstream
from shardstream._native import read_arrow_batch
from shardstream.durable import WouldBlock, nonblocking_puts


@pytest.fixture
def engine(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, durability="sync") as engine:
        yield engine


def _durable_counters(stream) -> list[int]:
    """Per shard, the first counter not yet known to be fsync-ed."""
    return list(stream.store._synced)


def test_nonblocking_put_leaves_the_commit_to_the_caller(engine):
    stream = engine.create_stream("s", 2)
    with nonblocking_puts() as pending:
        out = stream.put_record(b"x", "k")
    assert len(pending) == 1 and callable(pending[0].commit_async)
    shard = int(out["ShardId"].rsplit("-", 1)[1])
    # appended but not yet on disk (nothing waited for the flush), so not yet readable
    assert stream.store.persisted(shard) <= stream.logs[shard].tail - 1
    assert read_arrow_batch(stream.logs[shard], 1, 10, 2**31, stream.now_ms())[0] is None
    done = threading.Event()
    seen = []

    def callback(exc):
        seen.append((exc, _durable_counters(stream)[shard]))
        done.set()

    stream.commit_async(callback)
    assert done.wait(10)
    exc, synced = seen[0]
    assert exc is None and synced == stream.logs[shard].tail  # called back only once fsync-ed


def test_nonblocking_put_outside_sync_durability_has_nothing_pending(engine):
    stream = engine.create_stream("n", 1, durability="none")
    with nonblocking_puts() as pending:
        stream.put_record(b"x", "k")
    assert pending == []


def test_full_ring_would_block_and_writes_nothing(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, durability="sync", shard_capacity_bytes=2 * 1024 * 1024) as engine:
        stream = engine.create_stream("s", 1)
        big = b"x" * (900 * 1024)
        with nonblocking_puts() as pending:
            stream.put_record(big, "k")
            with pytest.raises(WouldBlock):
                for _ in range(3):
                    stream.put_record(big, "k")
        tail = stream.logs[0].tail
        assert len(pending) < 3
        # the ordinary (blocking) put makes room by flushing, as before
        stream.put_record(big, "k")
        assert stream.logs[0].tail == tail + 1
        assert stream.read_table().num_rows == tail  # every appended record, none twice


def test_on_demand_stream_and_multi_record_puts_would_block(engine):
    on_demand = engine.create_stream("od", stream_mode="ON_DEMAND")
    provisioned = engine.create_stream("p", 1)
    with nonblocking_puts():
        with pytest.raises(WouldBlock):
            on_demand.put_record(b"x", "k")
        with pytest.raises(WouldBlock):
            provisioned.put_records([{"Data": b"x", "PartitionKey": "k"}])
    assert on_demand.read_table().num_rows == 0 and provisioned.read_table().num_rows == 0


def test_concurrent_async_and_blocking_commits_answer_every_put_once_and_durably(engine):
    """Puts committed by commit_async and by in-process put_record at once: every callback comes
    exactly once, after its record is fsync-ed; in-process writers serve async waiters too."""
    stream = engine.create_stream("c", 4)
    answered: dict[int, list] = {}
    lock = threading.Lock()
    errors: list = []

    def async_writer(w: int) -> None:
        try:
            for i in range(60):
                key = w * 1000 + i
                done = threading.Event()
                with nonblocking_puts() as pending:
                    out = stream.put_record(b"a%d" % key, f"k{key}")
                shard = int(out["ShardId"].rsplit("-", 1)[1])

                def callback(exc, key=key, shard=shard, seq=out["SequenceNumber"], done=done):
                    with lock:
                        answered.setdefault(key, []).append((exc, seq, _durable_counters(stream)[shard]))
                    done.set()

                assert len(pending) == 1
                pending[0].commit_async(callback)
                assert done.wait(10)
        except Exception as exc:  # reported below
            errors.append(exc)

    def blocking_writer(w: int) -> None:
        try:
            for i in range(60):
                stream.put_record(b"b%d" % (w * 1000 + i), f"b{w}-{i}")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=async_writer, args=(w,)) for w in range(6)]
    threads += [threading.Thread(target=blocking_writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(answered) == sorted(w * 1000 + i for w in range(6) for i in range(60))
    table = stream.read_table()
    seqs = set(table.column("sequence_number").to_pylist())
    for calls in answered.values():
        assert len(calls) == 1  # exactly once
        exc, seq, synced = calls[0]
        assert exc is None and seq in seqs
        assert synced > shardstream.sequence.sequence_counter(seq)  # fsync-ed when answered
    assert table.num_rows == 6 * 60 + 3 * 60


def test_commit_async_callbacks_see_their_records_synced(engine, monkeypatch):
    stream = engine.create_stream("t", 1)
    from shardstream.storage import store as store_module

    order: list = []

    real_sync_all = store_module._sync_all

    def tracking_sync_all(logs):
        real_sync_all(logs)
        order.append("synced")

    monkeypatch.setattr(store_module, "_sync_all", tracking_sync_all)
    done = threading.Event()
    with nonblocking_puts():
        stream.put_record(b"x", "k")
    order.append("put")
    stream.commit_async(lambda exc: (order.append(("answered", exc)), done.set()))
    assert done.wait(10)
    assert order.index("synced") > order.index("put")
    assert order[-1] == ("answered", None)


def test_failed_flush_is_reported_to_the_callback(engine, monkeypatch):
    stream = engine.create_stream("f", 1)
    calls = []

    def failing_flush(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with nonblocking_puts():
        stream.put_record(b"x", "k")
    monkeypatch.setattr(stream.store, "flush", failing_flush)
    done = threading.Event()
    stream.commit_async(lambda exc: (calls.append(exc), done.set()))
    assert done.wait(10)
    assert isinstance(calls[0], OSError)
    monkeypatch.undo()
    # the store recovers: the next commit writes the record
    done.clear()
    stream.commit_async(lambda exc: (calls.append(exc), done.set()))
    assert done.wait(10)
    assert calls[1] is None and stream.read_table().num_rows == 1
