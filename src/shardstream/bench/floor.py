"""The latency floor ``shardstream bench`` measures beside each read path, in the same run.

A put-to-read time can't beat the hand-over it rests on, so the bench times
that hand-over alone, at the same pace and sample count:

* embedded: :func:`thread_wake_ns`, one thread waking another that waits on a
  ``threading.Condition`` (what any in-process reader in another thread
  needs: an OS wake-up and the GIL);
* through a server: :func:`round_trip_ns`, one keep-alive HTTP request and
  its answer on the server's own connection (the least a put must cost before
  any reader hears of it).

The bench reports each path's percentiles as multiples of the floor's.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse

import numpy as np

__all__ = ["round_trip_ns", "thread_wake_ns"]


def _paced(samples: int, interval_s: float, act) -> None:
    """Call ``act(i)`` for each sample, one every ``interval_s`` seconds."""
    clock, interval_ns = time.perf_counter_ns, int(interval_s * 1e9)
    began = clock()
    for i in range(samples):
        wait = began + i * interval_ns - clock()
        if wait > 0:
            time.sleep(wait / 1e9)
        act(i)


def thread_wake_ns(samples: int, interval_s: float) -> np.ndarray:
    """Times from a notify in this thread to a waiting thread running, one sample every ``interval_s``.

    Parameters
    ----------
    samples : int
    interval_s : float

    Returns
    -------
    numpy.ndarray of int64
        Nanoseconds, in sample order.
    """
    changed = threading.Condition()
    sent = np.zeros(samples, np.int64)
    woke = np.zeros(samples, np.int64)
    state = {"posted": 0}

    def waiter() -> None:
        seen = 0
        while seen < samples:
            with changed:
                changed.wait_for(lambda seen=seen: state["posted"] != seen)
                before, seen = seen, state["posted"]
            woke[before:seen] = time.perf_counter_ns()  # (more than one when it fell behind)

    def post(i: int) -> None:
        with changed:
            sent[i] = time.perf_counter_ns()
            state["posted"] = i + 1
            changed.notify()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    _paced(samples, interval_s, post)
    thread.join(10.0)
    return woke - sent


def round_trip_ns(url: str, samples: int, interval_s: float, path: str = "/_shardstream/health") -> np.ndarray:
    """Times of keep-alive HTTP GETs of ``path`` on the server at ``url``, one every ``interval_s``.

    Parameters
    ----------
    url : str
        ``http://host:port``.
    samples : int
    interval_s : float
    path : str
        A cheap endpoint of the server.

    Returns
    -------
    numpy.ndarray of int64
        Nanoseconds, in sample order.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    took = np.zeros(samples, np.int64)

    def get(i: int) -> None:
        began = time.perf_counter_ns()
        connection.request("GET", path)
        connection.getresponse().read()
        took[i] = time.perf_counter_ns() - began

    try:
        _paced(samples, interval_s, get)
    finally:
        connection.close()
    return took
