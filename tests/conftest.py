"""Shared fixtures and pure-Python reference models for the shardstream tests.

Under CI (``CI`` set, as ``.ci/run`` does) a skipped test is a failure: every dependency a test
needs is in the ``test`` extra, so a skip there means something is missing that CI must have.
The one exception is a ``skipif`` marker on the test (a condition declared up front, such as a
platform the test cannot run on); a ``pytest.skip()`` or ``pytest.importorskip()`` at run time
or at collection (which is how a missing dependency shows) fails.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os

import pytest

import shardstream

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

HASH_MAX = 2**128 - 1
ACCOUNT = "000000000000"
T0_MS = 1_700_000_000_000  # a fixed, realistic "now" for the fake clock


class FakeClock:
    """A mutable clock in ms since the epoch, usable as ``Engine(clock=...)``."""

    def __init__(self, start_ms: int = T0_MS):
        self.now = int(start_ms)

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += int(ms)
        return self.now


def md5_hash(key: str) -> int:
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")


def ref_uniform_ranges(n: int) -> list[tuple[int, int]]:
    step = 2**128 // n
    out = [(i * step, (i + 1) * step - 1) for i in range(n)]
    out[-1] = (out[-1][0], HASH_MAX)
    return out


def ref_shard_for_hash(h: int, starts: list[int]) -> int:
    """Position of the shard holding ``h`` given sorted starting hash keys (first is 0)."""
    return bisect.bisect_right(starts, h) - 1


def ref_shard_for_key(key: str, shard_count: int, explicit_hash_key=None) -> int:
    starts = [s for s, _ in ref_uniform_ranges(shard_count)]
    h = md5_hash(key) if explicit_hash_key is None else int(explicit_hash_key)
    return ref_shard_for_hash(h, starts)


def shard_id(i: int) -> str:
    return f"shardId-{i:012d}"


def read_all_get_records(stream, sid, iterator_type="TRIM_HORIZON", limit=None, **kw):
    """Drain a shard through get_records, following NextShardIterator until caught up."""
    it = stream.get_shard_iterator(sid, iterator_type, **kw)["ShardIterator"]
    out = []
    while True:
        resp = stream.get_records(it, limit) if limit is not None else stream.get_records(it)
        out.extend(resp["Records"])
        it = resp["NextShardIterator"]
        if not resp["Records"]:
            assert resp["MillisBehindLatest"] == 0
            return out


def table_by_shard(table) -> dict[str, list[tuple[str, bytes, str]]]:
    """Rows of a RECORD_SCHEMA table grouped by shard id: (key, data, seq) in table order."""
    out: dict[str, list] = {}
    for row in table.to_pylist():
        out.setdefault(row["shard_id"], []).append((row["partition_key"], row["data"], row["sequence_number"]))
    return out


_names = itertools.count()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine() -> shardstream.Engine:
    return shardstream.Engine()


@pytest.fixture
def clocked_engine(clock) -> shardstream.Engine:
    return shardstream.Engine(clock=clock)


@pytest.fixture
def stream(engine):
    """Factory: ``stream(shard_count=..., **create_stream_kwargs)`` -> a new Stream on ``engine``."""

    def make(shard_count: int = 1, name: str | None = None, **kw):
        return engine.create_stream(name or f"s{next(_names)}", shard_count, **kw)

    return make


# -- under CI, no test skips for a missing dependency -------------------------------------------


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _declared_skip(item, reason: str) -> bool:
    return any(mark.kwargs.get("reason") == reason for mark in item.iter_markers("skipif"))


def _fail_under_ci(report, what: str) -> None:
    reason = _skip_reason(report)
    report.outcome = "failed"
    report.longrepr = (
        f"{what} skipped under CI ({reason}). CI runs every test: install what it needs through the "
        "test extra (pip install -e '.[test]'), or declare a platform condition with a skipif marker."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail") and not _declared_skip(item, _skip_reason(report)):
        _fail_under_ci(report, item.nodeid)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if IN_CI and report.skipped:
        _fail_under_ci(report, collector.nodeid)
    return report
