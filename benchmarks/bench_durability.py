"""Durable streams (``Engine(data_dir=...)``): ingest, put_record under ``sync``, recovery (group ``durability``).

The pytest-benchmark versions of the main rows of ``durability_report.py`` (which
times them interleaved and prints the ratios; the workload functions are shared).
``--records`` sets the batch and recovery workloads (default 1,000,000);
``SHARDSTREAM_BENCH_SYNC_RECORDS`` (default 2,000) the ``sync`` put_record
ones, which ``fsync`` once per call (``--put-record-records`` is for in-memory
streams and far too many here).  Everything is written under pytest's
``tmp_path_factory`` (the temp dir) and deleted round by round.

* ``test_durable_put_batch[sync|interval|none]``: ``put_batch`` in batches of
  10,000 into a fresh 4-shard durable stream, then ``engine.close()`` (all on
  disk and synced), timed together; ``test_memory_put_batch``: the same puts
  into an in-memory engine.
* Baselines: ``test_durable_baseline_arrow_ipc_write`` (pyarrow's IPC stream
  writer, the stored batches of 65,536 rows, one ``pa.OSFile`` per shard, then
  fsync), ``test_durable_baseline_arrow_ipc_fsync_per_put`` (the batches a
  ``sync`` stream stores, fsync of every shard file after each put: like for
  like with ``sync``), ``test_durable_baseline_raw_write`` (the same bytes,
  one sequential ``os.write`` stream + fsync: the disk floor).
* ``test_durable_put_record_sync[1|4]``: single-record puts under ``sync`` from
  1 and 4 threads (group commit); baseline ``test_durable_baseline_write_fsync``:
  ``os.write`` + ``os.fsync`` per record.
* ``test_durable_reopen_clean`` / ``test_durable_reopen_after_crash``:
  ``Engine(data_dir)`` of a directory holding the records (after ``close()``;
  after ``engine._crash()``, copied afresh per round); ``test_durable_read_table_after_reopen``:
  ``read_table()`` of all shards right after a reopen; baselines
  ``test_durable_baseline_ipc_read`` (``pa.ipc.open_stream(OSFile).read_all()`` of
  the segment files) and ``test_durable_baseline_raw_read``.
"""

from __future__ import annotations

import itertools
import os
import shutil

import data
import durability_report as dr
import pytest

pytestmark = pytest.mark.benchmark(group="durability")

ROUNDS = 3
SYNC_RECORDS = int(os.environ.get("SHARDSTREAM_BENCH_SYNC_RECORDS", "2000"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    path = tmp_path_factory.mktemp("durability")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh(scratch):
    counter = itertools.count()

    def make(prefix: str):
        return scratch / f"{prefix}-{next(counter)}"

    return make


@pytest.fixture(scope="module")
def ref64(scratch, records):
    """A clean directory holding the records in 65,536-row batches."""
    return dr.make_reference(scratch / "ref-64k", records)


@pytest.fixture(scope="module")
def ref_sync(scratch, records):
    """A clean directory written by sync puts of 10,000 (one batch per shard per put)."""
    return dr.make_reference(scratch / "ref-sync", records, durability="sync", batch=dr.BATCH)


@pytest.fixture(scope="module")
def crashed(scratch, records):
    return dr.make_reference(scratch / "ref-crashed", records, crash=True)


@pytest.fixture(scope="module")
def sync_records():
    return data.list_records(max(SYNC_RECORDS, 1))


def _info(benchmark, records: int, ref=None) -> None:
    benchmark.extra_info.update(records=records, unit="records")
    if ref is not None:
        benchmark.extra_info["bytes"] = dr.dir_bytes(ref)


def _out_dir(fresh):
    def setup():
        path = fresh("out")
        path.mkdir()
        return (path,), {}

    return setup


def _rm(path, *_args) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- ingest -----------------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "interval", "none"])
def test_durable_put_batch(benchmark, records, fresh, ref64, durability):
    _info(benchmark, len(records), ref64)

    def setup():
        path = fresh(durability)
        engine, stream = dr.open_durable(path, durability)
        return (path, engine, stream), {}

    def run(path, engine, stream):
        dr.durable_put(engine, stream, records, dr.BATCH)

    def teardown(path, engine, stream):
        engine.close()
        dr.check("records on disk", sum(stream.store.segment_log(i).last_counter() or 0
                                        for i in range(data.SHARD_COUNT)), len(records))
        _rm(path)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=ROUNDS, warmup_rounds=1)


@pytest.mark.parametrize("direct_io", ["1", "0"])
def test_durable_put_batch_sustained(benchmark, records, fresh, ref64, direct_io, monkeypatch):
    """The records 4x back to back under ``interval``, large appends around the page cache (O_DIRECT) or not."""
    monkeypatch.setenv("SHARDSTREAM_DIRECT_IO", direct_io)
    _info(benchmark, 4 * len(records))

    def setup():
        path = fresh(f"sustained-{direct_io}")
        engine, stream = dr.open_durable(path, "interval")
        return (path, engine, stream), {}

    def run(path, engine, stream):
        dr.durable_put(engine, stream, records, dr.BATCH, passes=4)

    def teardown(path, engine, stream):
        engine.close()
        dr.check("records on disk", sum(stream.store.segment_log(i).last_counter() or 0
                                        for i in range(data.SHARD_COUNT)), 4 * len(records))
        _rm(path)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=ROUNDS, warmup_rounds=1)


def test_memory_put_batch(benchmark, records):
    _info(benchmark, len(records))
    import shardstream

    def setup():
        engine = shardstream.Engine(shard_limit=None)
        return (engine.create_stream(dr.STREAM, data.SHARD_COUNT), records, dr.BATCH), {}

    benchmark.pedantic(dr.put_batches, setup=setup, rounds=ROUNDS, warmup_rounds=1)


def test_durable_baseline_arrow_ipc_write(benchmark, records, fresh, ref64):
    _info(benchmark, len(records), ref64)
    batches = dr.load_batches(ref64)
    benchmark.pedantic(lambda p: dr.arrow_write(p, batches), setup=_out_dir(fresh), teardown=_rm, rounds=ROUNDS)


def test_durable_baseline_arrow_ipc_fsync_per_put(benchmark, records, fresh, ref_sync):
    _info(benchmark, len(records), ref_sync)
    batches = dr.load_batches(ref_sync)
    benchmark.pedantic(lambda p: dr.arrow_write_fsync_per_put(p, batches), setup=_out_dir(fresh), teardown=_rm,
                       rounds=ROUNDS)


def test_durable_baseline_raw_write(benchmark, records, fresh, ref64):
    _info(benchmark, len(records), ref64)
    chunks = dr.load_bytes(ref64)
    benchmark.pedantic(lambda p: dr.raw_write(p / "raw", chunks), setup=_out_dir(fresh), teardown=_rm,
                       rounds=ROUNDS)


# -- put_record under sync ----------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 4])
def test_durable_put_record_sync(benchmark, sync_records, fresh, threads):
    _info(benchmark, len(sync_records))
    benchmark.extra_info["threads"] = threads

    def setup():
        path = fresh("sync-pr")
        engine, stream = dr.open_durable(path, "sync")
        return (path, engine, stream), {}

    def run(path, engine, stream):
        if threads == 1:
            dr.put_each(stream.put_record, sync_records.keys, sync_records.data)
        else:
            dr.put_each_threads(stream.put_record, sync_records.keys, sync_records.data, threads)

    def teardown(path, engine, stream):
        engine.close()
        _rm(path)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=ROUNDS)


def test_durable_baseline_write_fsync(benchmark, sync_records, fresh):
    _info(benchmark, len(sync_records))
    benchmark.pedantic(lambda p: dr.write_fsync_each(p / "log", sync_records.data), setup=_out_dir(fresh),
                       teardown=_rm, rounds=ROUNDS)


# -- recovery and read-back -------------------------------------------------------------------


def _reopen_into(path, holder: list) -> None:
    holder.append(dr.reopen(path))


def _close_reopened(path, holder: list, expected: int) -> None:
    for engine in holder:
        dr.check("records found by the reopen", dr.stored_records(engine), expected)
        engine.close()
    holder.clear()


def test_durable_reopen_clean(benchmark, records, ref64):
    _info(benchmark, len(records), ref64)
    holder: list = []
    benchmark.pedantic(
        _reopen_into,
        setup=lambda: ((ref64, holder), {}),
        teardown=lambda p, h: _close_reopened(p, h, len(records)),
        rounds=ROUNDS,
        warmup_rounds=1,
    )


def test_durable_reopen_after_crash(benchmark, records, fresh, crashed):
    _info(benchmark, len(records), crashed)
    holder: list = []

    def teardown(path, h):
        _close_reopened(path, h, len(records))
        _rm(path)

    benchmark.pedantic(
        _reopen_into,
        setup=lambda: ((dr.copy_dir(crashed, fresh("crashed")), holder), {}),
        teardown=teardown,
        rounds=ROUNDS,
    )


def test_durable_read_table_after_reopen(benchmark, records, ref64):
    _info(benchmark, len(records), ref64)
    out: list = []

    def run(engine):
        out.append(dr.read_all_shards(engine).num_rows)

    def teardown(engine):
        engine.close()
        dr.check("rows read back", out.pop(), len(records))

    benchmark.pedantic(run, setup=lambda: ((dr.reopen(ref64),), {}), teardown=teardown, rounds=ROUNDS,
                       warmup_rounds=1)


def test_durable_baseline_ipc_read(benchmark, records, ref64):
    _info(benchmark, len(records), ref64)
    rows = benchmark.pedantic(dr.ipc_read, args=(ref64,), rounds=ROUNDS, warmup_rounds=1)
    dr.check("rows read", rows, len(records))


def test_durable_baseline_raw_read(benchmark, records, ref64):
    _info(benchmark, len(records), ref64)
    buf = bytearray(dr.WRITE_CHUNK)
    got = benchmark.pedantic(dr.raw_read, args=(ref64, buf), rounds=ROUNDS, warmup_rounds=1)
    dr.check("bytes read", got, dr.dir_bytes(ref64))
