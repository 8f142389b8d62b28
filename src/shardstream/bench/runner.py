"""One ``shardstream bench`` run: the throughput phase, then the latency phase, on fresh streams.

:func:`run_bench` creates a stream per phase (named ``shardstream-bench-<random>``),
runs :class:`~shardstream.bench.throughput.ThroughputPhase` and
:class:`~shardstream.bench.latency_phase.LatencyPhase`, deletes the streams,
and returns the results as one JSON-able dict (plus the raw latencies for a plot).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import secrets

from .. import __version__
from .latency_phase import LatencyPhase
from .throughput import ThroughputPhase
from .workload import Workload

__all__ = ["BenchRun", "run_bench"]


class BenchRun:
    """What a run measured.

    Parameters
    ----------
    result : dict
        The JSON result (``target``, ``workload``, ``throughput``, ``latency``, ``environment``).
    latencies_us : dict of str to list of float
        Every latency sample per read path, in microseconds (empty without a latency phase).
    """

    def __init__(self, result: dict, latencies_us: dict[str, list[float]]):
        self.result = result
        self.latencies_us = latencies_us


def _environment() -> dict:
    return {
        "shardstream": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # other work on the machine shows in the numbers
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _delete(target, name: str) -> None:
    if target.embedded:
        target.engine.delete_stream(name, enforce_consumer_deletion=True)
        return
    try:  # a remote stream costs (AWS) or holds memory (a shared server): best effort
        target.engine.delete_stream(name, enforce_consumer_deletion=True)
    except Exception:  # noqa: BLE001 - the run's results matter more than this clean-up
        pass


def run_bench(target, workload: Workload, progress) -> BenchRun:
    """Run ``workload`` against ``target``.

    Parameters
    ----------
    target : Target
    workload : Workload
    progress : RichProgress or NoProgress

    Returns
    -------
    BenchRun
    """
    engine = target.engine
    prefix = f"shardstream-bench-{secrets.token_hex(4)}"
    result = {
        "target": {"url": target.url, "kind": target.kind},
        "workload": workload.as_dict(),
        "environment": _environment(),
    }
    name = f"{prefix}-throughput"
    stream = engine.create_stream(name, workload.shards)
    try:
        result["throughput"] = ThroughputPhase(stream, workload, progress).run()
    finally:
        _delete(target, name)
    latencies: dict[str, list[float]] = {}
    if workload.latency_samples:
        name = f"{prefix}-latency"
        stream = engine.create_stream(name, workload.shards)
        try:
            phase = LatencyPhase(target, stream, workload, progress)
            result["latency"] = phase.run()
            latencies = phase.latencies_us()
        finally:
            _delete(target, name)
    return BenchRun(result, latencies)
