"""The ``--plot`` image of ``shardstream bench``: throughput over time and the latency distributions."""

from __future__ import annotations

import numpy as np

from .async_round import PATH as ASYNC_PATH

__all__ = ["write_plot"]


def _us(value: float) -> str:
    """A latency in microseconds, readably: ``63 us``, ``2.6 ms``."""
    return f"{value:.0f} us" if value < 1000 else f"{value / 1000:.1f} ms"


def _even(timeline, least_s: float = 0.025):
    """``timeline`` without rows closer than ``least_s`` to the one before (a rate over 1 ms is noise).

    The last row is kept, in place of the row before it when that one is too close.
    """
    if len(timeline) < 3:
        return timeline
    kept = [timeline[0]]
    for row in timeline[1:-1]:
        if row[0] - kept[-1][0] >= least_s:
            kept.append(row)
    if timeline[-1][0] - kept[-1][0] < least_s and len(kept) > 1:
        kept.pop()
    kept.append(timeline[-1])
    return np.array(kept)


def write_plot(result: dict, latencies_us: dict[str, list[float]], path: str) -> None:
    """Write a PNG: put/get records per second over time, and each read path's latency CDF.

    Parameters
    ----------
    result : dict
        A run's result.
    latencies_us : dict of str to list of float
        Each read path's latency samples, in microseconds.
    path : str
        The PNG file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=90)
    try:
        timeline = _even(np.array(result["throughput"]["timeline"], dtype=float).reshape(-1, 3))
        if len(timeline) > 1:
            dt = np.diff(timeline[:, 0])
            dt[dt <= 0] = np.nan
            t = timeline[1:, 0]
            putting = t <= result["throughput"]["put"]["seconds"] + 1e-6  # not the consumers' catching up
            left.plot(t[putting], (np.diff(timeline[:, 1]) / dt)[putting], ".-", label="put")
            if "get" in result["throughput"]:
                left.plot(t, np.diff(timeline[:, 2]) / dt, ".-", label="get")
            left.legend()
        left.set_xlabel("seconds")
        left.set_ylabel("records/s")
        left.set_title("throughput")
        left.grid(alpha=0.3)
        labels = {"poll": "GetRecords loop", "subscribe": "SubscribeToShard", ASYNC_PATH: "SubscribeToShard, asyncio"}
        stats = result.get("latency") or {}
        for name, values in latencies_us.items():
            if values:
                ordered = np.sort(np.asarray(values))
                label = labels.get(name, name)
                if name in stats and stats[name]["p50_us"] is not None:
                    label += f" (p50 {_us(stats[name]['p50_us'])}, p99 {_us(stats[name]['p99_us'])})"
                right.plot(ordered, np.arange(1, len(ordered) + 1) / len(ordered), label=label)
        right.set_xscale("log")
        right.set_xlabel("put -> read latency (microseconds)")
        right.set_ylabel("fraction of records")
        right.set_title("latency CDF")
        right.grid(alpha=0.3, which="both")
        if latencies_us:
            right.legend(fontsize="small")
        target, w = result["target"], result["workload"]
        fig.suptitle(
            f"shardstream bench: {target['url']} ({target['kind']}): {w['record_size']} B records, "
            f"{w['shards']} shards, batches of {w['batch']}"
        )
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
