"""A CallMeter keeps each call as one tuple and hands whole seconds to the series on flush, never on a call."""

from __future__ import annotations

import threading
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.metrics.call_meter import CallMeter

BASE = int(time.time()) - 600  # seconds well inside the series' window

CALLS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 1000), st.integers(0, 10_000), st.floats(0.001, 500)), max_size=60
)


def meter():
    engine = shardstream.Engine()
    return engine.metrics, CallMeter(engine.metrics, "GetRecords", "s", reads=True)


def stats(metrics, name: str, second: int) -> dict:
    table = metrics.table(name, {"StreamName": "s"}, start=second, end=second + 1, period=1)
    return {k: table.column(k).to_pylist() for k in ("sum", "sample_count", "minimum", "maximum")}


@given(CALLS, st.data())
@settings(max_examples=40, deadline=None)
def test_seconds_reach_the_series_whole_and_the_totals_never_go_back(calls, data):
    metrics, m = meter()
    seen_totals = [m.totals()]
    by_second: dict[int, list] = {}
    for offset, records, nbytes, latency in calls:
        second = BASE + offset
        m.record(second * 1000 + 5, records, nbytes, latency, age_ms=7)
        by_second.setdefault(second, []).append((records, nbytes, latency))
        if data.draw(st.booleans()):
            m.flush()
        seen_totals.append(m.totals())
    m.flush()
    seen_totals.append(m.totals())
    assert all(a <= b for a, b in zip(seen_totals, seen_totals[1:]))  # monotonic counters, element by element
    assert seen_totals[-1] == (len(calls), sum(c[1] for c in calls), sum(c[2] for c in calls))
    for second, rows in by_second.items():
        got = stats(metrics, "GetRecords.Records", second)
        records = [r for r, _, _ in rows]
        assert got["sample_count"] == [len(rows)] and got["sum"] == [float(sum(records))]
        assert got["minimum"] == [float(min(records))] and got["maximum"] == [float(max(records))]
        latency = stats(metrics, "GetRecords.Latency", second)
        assert np.isclose(latency["sum"][0], sum(lat for _, _, lat in rows))


def test_a_call_in_a_new_second_hands_nothing_over():
    metrics, m = meter()
    for _ in range(1000):
        m.record(BASE * 1000 + 500, 10, 100, 0.5)
    m.record(BASE * 1000 + 1500, 1, 1, 0.5)  # the next second: the first one waits for a flush
    records = metrics.series("GetRecords.Records", {"StreamName": "s"}, unit="Count")
    assert records.empty  # the caller handed nothing over ...
    assert m.totals() == (1001, 10_001, 100_001)  # ... and the pending calls count
    metrics.flush_meters()
    assert stats(metrics, "GetRecords.Records", BASE)["sample_count"] == [1000]
    assert stats(metrics, "GetRecords.Records", BASE + 1)["sample_count"] == [1]


def test_calls_from_threads_during_flushes_are_all_counted():
    metrics, m = meter()
    threads = [
        threading.Thread(target=lambda t=t: [m.record(BASE * 1000 + i, 1, t, 0.1) for i in range(5000)])
        for t in range(4)
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        m.flush()
    m.flush()
    assert m.totals() == (20_000, 20_000, 5000 * (0 + 1 + 2 + 3))
    counts = [stats(metrics, "GetRecords.Success", s)["sum"] for s in range(BASE, BASE + 5)]
    assert sum(c[0] for c in counts if c) == 20_000
